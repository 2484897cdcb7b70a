"""The trigger body's dedup and digest fields, and their defaults and bounds from the
operator's settings (PARLEY_NOTIFICATION_DEDUP_*, PARLEY_NOTIFICATION_DIGEST_*)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import InvalidCommand
from domain.notifications.content import TITLE_MAX_CHARS
from domain.notifications.digests import COUNT, MAX_KEY_LENGTH, DigestAsk

KEY_PATTERN = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces: keys are identifiers
LONGEST_WINDOW = 366 * 86400


class WindowTooLong(InvalidCommand):
    """A dedup or digest window beyond what the operator allows."""


class DigestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(..., min_length=1, max_length=MAX_KEY_LENGTH, pattern=KEY_PATTERN,
                     description="Collapse with the recipient's other notifications of the "
                                 "category under this key (e.g. a conversation's id)")
    window_seconds: int | None = Field(
        None, ge=1, le=LONGEST_WINDOW, description="From the digest's first member to its "
        "flush (default: the category's operator window, else 600)")
    title: str | None = Field(
        None, min_length=1, max_length=TITLE_MAX_CHARS,
        description=f"The digest's title; {COUNT} is replaced by the number of members "
                    f"(default \"{COUNT} new notifications\")")


class CollapseSettings(Protocol):
    notification_dedup_window_seconds: int
    notification_dedup_max_window_seconds: int
    notification_digest_windows: dict[str, int]
    notification_digest_max_window_seconds: int


DEFAULT_DIGEST_WINDOW = 600


def dedup_window(asked: int | None, settings: CollapseSettings) -> int:
    if asked is None:
        return settings.notification_dedup_window_seconds
    if asked > settings.notification_dedup_max_window_seconds:
        raise WindowTooLong("dedup_window_seconds", f"at most "
                            f"{settings.notification_dedup_max_window_seconds} seconds")
    return asked


def digest_ask(asked: DigestRequest | None, category: str,
               settings: CollapseSettings) -> DigestAsk | None:
    """The trigger's digest, or the operator's window for the category (keyed by its name)."""
    operator = settings.notification_digest_windows.get(category)
    if asked is None:
        return None if operator is None else DigestAsk(category, operator)
    window = asked.window_seconds or operator or DEFAULT_DIGEST_WINDOW
    if window > settings.notification_digest_max_window_seconds:
        raise WindowTooLong("digest.window_seconds", f"at most "
                            f"{settings.notification_digest_max_window_seconds} seconds")
    return DigestAsk(asked.key, window, asked.title)
