"""The processors: dedupe, reorder, late correction and projection folding per entity.

The event order and the projection registry live beside the folds (`projections`); the wire
formats shared with the ingress live in `schemas`.
"""
