"""Benchmark of the query API: memory of a big view, change-to-stream latency."""
