"""The simulator's one exception."""

from __future__ import annotations


class SimulatorError(Exception):
    """The simulator cannot do what it was asked (bad target, bad option)."""
