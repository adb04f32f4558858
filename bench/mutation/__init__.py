"""Mutation testing of the pure core and the folds: `python -m bench.mutation`."""
