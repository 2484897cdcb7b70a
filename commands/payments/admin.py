"""Admins' and users' payment housekeeping: rule sets, tiers, reports (H5)."""

from __future__ import annotations

from collections.abc import Mapping

from event_log.outcomes import Handler

ADMIN_HANDLERS: Mapping[type, Handler] = {}
