"""The soak: steady damaged traffic through the whole pipeline, faults in the middle."""
