"""A bounded pool of ours that is full (e.g. the password hashing workers): the caller is
answered 503 with Retry-After at once (`problems`), whichever context the pool belongs to."""

from __future__ import annotations

from typing import ClassVar


class Saturated(Exception):
    """Every worker is busy and the queue is full: retry in `retry_after_seconds`."""

    detail: ClassVar[str] = "too busy; retry after the given seconds"
    retry_after_seconds: ClassVar[int] = 1
