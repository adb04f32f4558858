"""End-to-end latency: HTTP receipt -> projection document readable."""
