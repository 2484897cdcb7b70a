"""Waiting, bounded, for what the notification engine does eventually (a dispatch, a receipt, a
read model catching up): the one poll every notification end-to-end module uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], what: str | Callable[[], str] | None = None,
               timeout: float = 15.0, every: float = 0.02) -> Any:
    """`check()`'s first truthy answer, asked every `every` seconds until `timeout`; then the
    test fails, saying `what` (a callable is asked then: e.g. the processes' logs as they are
    at the end) or naming the check."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout} s: {said or check}")
        time.sleep(every)
