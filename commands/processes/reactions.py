"""Process managers: projectors that issue commands (an event that causes a command).

A process manager is pure: given an event of a type it reacts to, it answers the commands
that event causes, and nothing else (no clock, no I/O; time comes from the event). The
runner (`commands.processes.runner`) feeds it the log by position and issues what it answers,
each command keyed by the event that caused it, so handling an event twice issues nothing
twice in effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID, uuid5

from event_log.aggregate import EVENT_ID_NAMESPACE, Cause


class ProcessManager(Protocol):
    """What a context's manifest lists under `process_managers`."""

    @property
    def name(self) -> str:
        """Unique in a deployment: it names the recorded position, the lock and the keys."""
        ...

    @property
    def actor_id(self) -> UUID:
        """Who the commands it issues are recorded as coming from (no person asked)."""
        ...

    @property
    def reacts_to(self) -> tuple[type, ...]:
        """The event classes it reacts to; it is never handed any other."""
        ...

    def react(self, event: Any) -> Sequence[Any]:
        """The commands `event` causes, in the order they are to be issued (may be none)."""
        ...


# A manager may also say `pipelined = True`: the runner then issues the commands of a whole
# batch of events at once and awaits their answers together (commands/processes/runner.py),
# for managers whose commands need not wait for each other's answers to be issued.


def event_id_of(event: Any) -> UUID:
    """The stable id of a stored event (its place in its aggregate's history)."""
    event_id = getattr(event, "event_id", None)
    if isinstance(event_id, UUID):
        return event_id
    return uuid5(EVENT_ID_NAMESPACE, f"{event.originator_id}/{event.originator_version}")


def idempotency_key(manager: str, event: Any, index: int) -> str:
    """The key of the `index`-th command `manager` issues for `event`: the same every time the
    event is handled, so the writer answers a repeat from the first one's receipt."""
    return f"process:{manager}:{event_id_of(event)}:{index}"


def cause_of(manager: ProcessManager, event: Any) -> Cause:
    """Commands a process manager issues belong to the causing event's request chain and name
    that event as their causation."""
    correlation = getattr(event, "correlation_id", None)
    return Cause(actor_id=manager.actor_id,
                 correlation_id=correlation if isinstance(correlation, UUID)
                 else event_id_of(event),
                 causation_id=event_id_of(event))
