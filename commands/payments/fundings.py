"""Funding wallets by card and paying out, through the card processor (H6)."""

from __future__ import annotations

from collections.abc import Mapping

from event_log.outcomes import Handler

FUNDING_HANDLERS: Mapping[type, Handler] = {}
