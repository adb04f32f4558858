"""How long the log waits for stragglers, how much history it keeps, what a late event does."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.errors import ProcessorError

__all__ = ["OnLate", "Policy", "PolicyError", "policy_of"]


class PolicyError(ProcessorError, ValueError):
    """A policy value that cannot work (for example a horizon shorter than the grace)."""


class OnLate(StrEnum):
    """What becomes of an event that sorts before events already released (a late one)."""

    REFOLD = "refold"
    """Insert it into the history and refold the projection from there (the default)."""
    SET_ASIDE = "set-aside"
    """Fold nothing: report it (the late topic) and keep the projection as released."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The per-entity log's policy, passed in by the caller (never global)."""

    grace_ms: int = 3_000
    flush_timeout_ms: int = 2_000
    horizon_ms: int = 6 * 60 * 60 * 1000
    on_late: OnLate = OnLate.REFOLD
    # events past the floor are forgotten in steps that end at a checkpoint (every 16
    # revisions), whose projection is cached, so forgetting them refolds nothing; False
    # forgets each as soon as the floor passes it, folding it once more into the base
    prune_at_checkpoints: bool = True

    def __post_init__(self) -> None:
        if self.grace_ms < 0:
            raise PolicyError(f"grace_ms must be 0 or more, got {self.grace_ms}")
        if self.flush_timeout_ms <= 0:
            raise PolicyError(f"flush_timeout_ms must be positive, got {self.flush_timeout_ms}")
        if self.horizon_ms <= self.grace_ms:
            # every event must be released before it can be pruned
            raise PolicyError(
                f"horizon_ms ({self.horizon_ms}) must be greater than grace_ms ({self.grace_ms})"
            )


def policy_of(settings: Settings) -> Policy:
    """The core's policy from the worker settings, the same for the worker and the replay
    (which must decide as live does); raises `PolicyError` when it cannot work."""
    w = settings.worker
    return Policy(
        grace_ms=w.grace_ms,
        flush_timeout_ms=w.flush_timeout_ms,
        horizon_ms=w.horizon_ms,
        on_late=OnLate(w.on_late),
    )
