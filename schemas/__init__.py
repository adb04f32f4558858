"""Event and projection schemas: typed models, JSON Schema files and the vendor's examples."""
