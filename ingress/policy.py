"""Who may deliver: secrets per subscription and the allow-lists, parsed once from settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from wxcc_stream.base.settings import IngressSettings, SettingsError
from wxcc_stream.schemas.signing import parse_secrets


def parse_list(text: str) -> frozenset[str]:
    """A comma-separated allow-list; empty means "anything"."""
    return frozenset(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """The rules `admission.admit` applies; built from `IngressSettings`."""

    secrets: Mapping[str, tuple[bytes, ...]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    verify_signatures: bool = True
    timestamp_tolerance_ms: int = 5 * 60 * 1000
    allowed_orgs: frozenset[str] = frozenset()
    allowed_subscriptions: frozenset[str] = frozenset()
    # events marked as wxcc-stream's own (reconciled) are refused on the webhook path; a
    # backfill of the raw topic's own archive carries them legitimately
    reconciled_allowed: bool = False

    @classmethod
    def from_settings(cls, settings: IngressSettings) -> AdmissionPolicy:
        """Parse the textual settings; raises SettingsError on a malformed value."""
        if settings.timestamp_tolerance_ms <= 0:
            raise SettingsError("WXCC_INGRESS_TIMESTAMP_TOLERANCE_MS: must be greater than 0")
        return cls(
            secrets=parse_secrets(settings.secrets),
            verify_signatures=settings.verify_signatures,
            timestamp_tolerance_ms=settings.timestamp_tolerance_ms,
            allowed_orgs=parse_list(settings.allowed_orgs),
            allowed_subscriptions=parse_list(settings.allowed_subscriptions),
        )

    def subscription_allowed(self, subscription_id: str) -> bool:
        """True when the allow-list is empty or names this subscription."""
        return not self.allowed_subscriptions or subscription_id in self.allowed_subscriptions

    def org_allowed(self, org_id: str | None) -> bool:
        """True when the allow-list is empty or names this org (an event without org fails)."""
        if not self.allowed_orgs:
            return True
        return org_id is not None and org_id in self.allowed_orgs
