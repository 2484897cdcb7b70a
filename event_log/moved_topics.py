"""Topics of events stored before their classes moved, resolved to where the classes live now.

`eventsourcing` stores each event's class path as its topic (`domain.users:User.Registered`),
and each snapshot's too. When a module moves (issue 10 put every context in its own package),
events already in a log keep their old topics: registering the old module name makes them
decode to the moved classes, and new events are stored under the new path. A log may
therefore hold both topics for one event type; `former_topics` names the old ones, so that
whatever filters by topic (audit queries, the relay's map of contexts) matches both.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from eventsourcing.utils import register_topic

# module an event class was stored under -> the module it lives in now
MOVED_EVENT_MODULES: Mapping[str, str] = {
    "domain.events": "event_log.aggregate",
    "domain.receipts": "event_log.idempotency",
    "domain.users": "domain.identity.users",
    "domain.accounts": "domain.identity.accounts",
    "domain.devices": "domain.identity.devices",
    "domain.device_roster": "domain.identity.device_roster",
    "domain.contacts": "domain.identity.contacts",
    "domain.roles": "domain.identity.roles",
    "domain.conversations": "domain.messaging.conversations",
    "domain.messages": "domain.messaging.messages",
    "domain.read_markers": "domain.messaging.read_markers",
    "domain.attachments": "domain.messaging.attachments",
    "domain.upload_quota": "domain.messaging.upload_quota",
    "domain.invitations": "domain.messaging.invitations",
}


def register_moved_modules(moves: Mapping[str, str] = MOVED_EVENT_MODULES) -> None:
    """Makes every old topic resolve to its class's new home (idempotent)."""
    for former, current in moves.items():
        register_topic(former, importlib.import_module(current))


def current_module(module: str, moves: Mapping[str, str] = MOVED_EVENT_MODULES) -> str:
    """The module an event class lives in now, given the module named by a stored topic."""
    return moves.get(module, module)


def former_topics(topic: str, moves: Mapping[str, str] = MOVED_EVENT_MODULES) -> list[str]:
    """The topics an event type was stored under before it moved, oldest names first."""
    module, _, name = topic.partition(":")
    return [f"{former}:{name}" for former, current in moves.items() if current == module]
