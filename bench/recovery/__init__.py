"""Benchmark: how fast a worker is back after a restart, and how fast another takes over."""
