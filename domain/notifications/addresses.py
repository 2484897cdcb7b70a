"""Where a notification goes: one contact point of its recipient, as a provider needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Address:
    """Where on its channel a notification goes: one contact point of the recipient.

    `kind` is one of domain.notifications.channels' address kinds; `value` the email address,
    E.164 number, Web Push endpoint URL, FCM/APNs token, webhook URL, or the user id (in-app).
    `keys` holds what the protocol needs beside it: a Web Push subscription's `p256dh` and
    `auth`; a webhook endpoint's signing secrets (`secret`, and `previous_secret` while one
    is being rotated).
    """

    kind: str
    value: str = field(repr=False)
    contact_point_id: str = ""
    device_id: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict, repr=False)
