"""Stream processor throughput, latency and memory against a bare Faust agent; see `run.py`."""
