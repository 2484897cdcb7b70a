"""Provider adapters by kind, built from PARLEY_NOTIFICATION_PROVIDERS (a JSON list).

Each entry names one provider instance: `{"name": "fcm-main", "kind": "fcm", ...}`, the rest
of its keys being the kind's own (its class's `from_config` says which, and refuses a bad
entry with a ValueError naming the key). Several instances of one kind are several providers
(two SMTP relays, an APNs gateway on port 443 and one on 2197): the channel fails over
between them. Kinds are imported only when configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commands.notifications.providers import Provider
from domain.notifications.tracked_links import TrackedLinks
from domain.notifications.unsubscribe import UnsubscribeLinks

KINDS: Mapping[str, str] = {
    "fcm": "adapters.notifications.fcm:FcmProvider",
    "apns": "adapters.notifications.apns:ApnsProvider",
    "webpush": "adapters.notifications.webpush:WebPushProvider",
    "smtp": "adapters.notifications.smtp_email:SmtpProvider",
    "twilio": "adapters.notifications.twilio_sms:TwilioProvider",
    "vonage": "adapters.notifications.vonage_sms:VonageProvider",
    "webhook": "adapters.notifications.webhooks:WebhookProvider",
}


@dataclass(frozen=True)
class ProviderEnvironment:
    """What every adapter may need from the deployment rather than from its entry."""

    # Parley's own public base URL: status callbacks and unsubscribe links point under it
    public_url: str = "http://127.0.0.1:8000"
    # tests only: http:// (not https://) endpoints on 127.0.0.1 are allowed
    allow_loopback_http: bool = False
    timeout_seconds: float = 10.0
    # email: the one-click unsubscribe links (RFC 8058) mail of a non-transactional category
    # carries; None, no links
    unsubscribe_links: UnsubscribeLinks | None = None
    # email: the tracked links (clicks) each http(s) link of a message is sent as; None, none
    tracked_links: TrackedLinks | None = None


def build_providers(entries: Sequence[Mapping[str, Any]],
                    environment: ProviderEnvironment) -> list[Provider]:
    providers: list[Provider] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        name, kind = entry.get("name"), entry.get("kind")
        if not isinstance(name, str) or not name:
            raise ValueError(f"notification provider #{index} has no name")
        if name in names:
            raise ValueError(f"notification provider {name!r} is named twice")
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"notification provider {name!r}: unknown kind {kind!r} "
                             f"(one of {', '.join(sorted(KINDS))})")
        module, _, attribute = KINDS[kind].partition(":")
        adapter = getattr(importlib.import_module(module), attribute)
        providers.append(adapter.from_config(entry, environment))
        names.add(name)
    return providers
