"""Ingress throughput and latency against a bare aiohttp handler; see `run.py`."""
