"""Benchmarks (not tests): each subpackage runs with `python -m bench.<name>`."""
