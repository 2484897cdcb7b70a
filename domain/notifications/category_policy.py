"""What the operator decides per category: which are critical (security alerts, payment
confirmations: they bypass opt-outs, quiet hours, throttles and digests, never reachability),
which are transactional (exempt from the SMS sending window; critical ones always are), the
default on/off per category x channel before a user overrides it, the time zone of a
recipient who set none, and the bounds of what one recipient accumulates in digests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from domain.notifications.collapsing import DEFAULT_DIGEST_LIMITS, DigestLimits

DEFAULT_CRITICAL_CATEGORIES: Final = frozenset({"security", "payment"})
DEFAULT_TRANSACTIONAL_CATEGORIES: Final = frozenset({"security", "payment", "account"})
DEFAULT_TIME_ZONE: Final = "UTC"


@dataclass(frozen=True)
class CategoryPolicy:
    critical: frozenset[str] = DEFAULT_CRITICAL_CATEGORIES
    transactional: frozenset[str] = DEFAULT_TRANSACTIONAL_CATEGORIES
    # {category: {channel: on}}; a pair not named is on
    defaults: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    default_time_zone: str = DEFAULT_TIME_ZONE
    digests: DigestLimits = DEFAULT_DIGEST_LIMITS  # members per digest, open digests per caller

    def is_critical(self, category: str) -> bool:
        return category in self.critical

    def is_transactional(self, category: str) -> bool:
        return category in self.transactional or category in self.critical

    def default_for(self, category: str, channel: str) -> bool:
        return self.defaults.get(category, {}).get(channel, True)
