"""Money requests: ask a member for money; they accept (a payment), decline, or it expires (H7)."""

from __future__ import annotations

from collections.abc import Mapping

from event_log.outcomes import Handler

REQUEST_HANDLERS: Mapping[type, Handler] = {}
