"""Errors of the WxCC API simulator."""

from __future__ import annotations


class ApiSimulatorError(Exception):
    """Root of the simulator's errors."""


class BadRequest(ApiSimulatorError):
    """A request the real API answers with 400; the message says why."""
