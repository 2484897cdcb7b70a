"""What a notification says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Content:
    title: str = field(repr=False)
    body: str = field(repr=False)
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    deep_link: str | None = None
    # email only: the HTML part a template rendered (else one is made from the body)
    html: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Rendering:
    """What a template made of a notification on one channel, and which template, version
    and locale made it (`asked_locale`: the recipient's or the trigger's, which the template's
    locale may have fallen back from)."""

    channel: str
    template_id: UUID
    version: int
    locale: str
    asked_locale: str | None
    content: Content = field(repr=False)

    def record(self) -> dict[str, Any]:
        """As the notification's `Requested` event records it."""
        return {"channel": self.channel, "template_id": str(self.template_id),
                "version": self.version, "locale": self.locale,
                "asked_locale": self.asked_locale, "title": self.content.title,
                "body": self.content.body, "html": self.content.html}


# What each channel can carry (the trigger API refuses content beyond it, before anything is
# written). Push: the providers' 4,096-byte payload, less what the adapters add (the ids, and
# Web Push's encryption: 3,993 bytes of plaintext fit its 4,096); SMS: ten concatenated
# segments; email: a body a mailbox will take.
PUSH_PAYLOAD_BYTES = 3800
SMS_MAX_SEGMENTS = 10
EMAIL_MAX_BYTES = 256 * 1024
TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 10_000
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def push_payload(content: Content) -> bytes:
    """The JSON a push provider carries (title, body, data, deep link), as bytes."""
    import json

    return json.dumps({"title": content.title, "body": content.body, "data": dict(content.data),
                       "deep_link": content.deep_link}, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()


def sms_text(content: Content) -> str:
    """An SMS has no title: the title, a newline and the body (or the body alone)."""
    return f"{content.title}\n{content.body}" if content.title else content.body


def sms_segments(text: str) -> int:
    """How many SMS segments `text` takes: GSM-7 160 (153 when concatenated), else UCS-2 70
    (67), counting characters outside the Basic Multilingual Plane twice."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


def content_problem(content: Content, channel: str) -> str | None:
    """Why `content` cannot go on `channel`, or None."""
    from domain.notifications.channels import EMAIL, PUSH, SMS, WEBHOOK

    if channel in (PUSH, WEBHOOK) and len(push_payload(content)) > PUSH_PAYLOAD_BYTES:
        return f"is over the {PUSH_PAYLOAD_BYTES}-byte payload a {channel} can carry"
    if channel == SMS and sms_segments(sms_text(content)) > SMS_MAX_SEGMENTS:
        return f"is over the {SMS_MAX_SEGMENTS} segments an SMS may take"
    if channel == EMAIL and len(push_payload(content)) > EMAIL_MAX_BYTES:
        return f"is over the {EMAIL_MAX_BYTES} bytes an email may carry"
    return None
