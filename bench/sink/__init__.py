"""Documents/s of the PostgreSQL sink into a local server (`python -m bench.sink`)."""
