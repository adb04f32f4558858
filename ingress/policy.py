"""Who may deliver: secrets per subscription and the allow-lists, parsed once from settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from wxcc_stream.base.settings import IngressSettings, SettingsError


def parse_secrets(text: str) -> Mapping[str, tuple[bytes, ...]]:
    """Parse `subId=secret1|secret2,other=secret` into subscription id -> secrets.

    Several secrets for one subscription are all accepted, so a secret can be rotated
    without downtime. Errors never echo a secret, only the subscription id.
    """
    result: dict[str, tuple[bytes, ...]] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        sub_id, sep, values = item.partition("=")
        sub_id = sub_id.strip()
        if not sep or not sub_id:
            raise SettingsError(
                "WXCC_INGRESS_SECRETS: expected subscriptionId=secret[|secret...], "
                "entries separated by commas"
            )
        secrets = tuple(s.strip().encode() for s in values.split("|") if s.strip())
        if not secrets:
            raise SettingsError(f"WXCC_INGRESS_SECRETS: subscription {sub_id!r} has no secret")
        result[sub_id] = result.get(sub_id, ()) + secrets
    return MappingProxyType(result)


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
