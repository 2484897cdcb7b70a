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

# The event-log core's own moves; each context's manifest (parley/contexts/) declares its own,
# and the composition root registers them all.
CORE_MOVED_MODULES: Mapping[str, str] = {
    "domain.events": "event_log.aggregate",
    "domain.receipts": "event_log.idempotency",
}
# The core's event modules: idempotency receipts are kept in the event log only
CORE_EVENT_MODULES: tuple[str, ...] = ("event_log.idempotency",)

# every move registered so far: module an event class was stored under -> where it lives now
REGISTERED_MOVES: dict[str, str] = {}


def register_moved_modules(moves: Mapping[str, str]) -> None:
    """Makes every old topic resolve to its class's new home (idempotent)."""
    for former, current in moves.items():
        register_topic(former, importlib.import_module(current))
        REGISTERED_MOVES[former] = current


def current_module(module: str, moves: Mapping[str, str] | None = None) -> str:
    """The module an event class lives in now, given the module named by a stored topic."""
    return (REGISTERED_MOVES if moves is None else moves).get(module, module)


def former_topics(topic: str, moves: Mapping[str, str] | None = None) -> list[str]:
    """The topics an event type was stored under before it moved, oldest names first."""
    module, _, name = topic.partition(":")
    return [f"{former}:{name}"
            for former, current in (REGISTERED_MOVES if moves is None else moves).items()
            if current == module]
