"""Operating the worker: metrics, liveness of the input partitions, health and readiness."""
