"""Errors raised by the scenario generator."""

from __future__ import annotations


class ScenarioError(Exception):
    """Root of every error the scenario package raises."""


class ScenarioConfigError(ScenarioError, ValueError):
    """A scenario or damage setting cannot be used; the message names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem
