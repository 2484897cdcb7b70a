"""Audit: the hash chain and its signed checkpoints, and audit queries over the event log.

It records no events of its own (a refused audit request is an identity `UserRoles` event)
and has no read models: audit reads the log itself."""

from __future__ import annotations

from collections.abc import Sequence

from commands.audit.checkpoints import ChainCheckpoints
from commands.processes.schedules import Schedule
from parley.contexts.manifest import BoundedContext, PlacedRouter, ScheduleParts


def schedules(parts: ScheduleParts) -> Sequence[Schedule]:
    """The process that signs the chain signs its head every PARLEY_CHECKPOINT_EVERY_SECONDS
    when it moved (only with a key)."""
    if parts.chain is None or parts.audit_key is None:
        return ()
    checkpoints = ChainCheckpoints(parts.chain, parts.audit_key, parts.clock)
    return (checkpoints.schedule(parts.settings.checkpoint_every_seconds),)


def routers() -> Sequence[PlacedRouter]:
    from api.audit import log

    return (PlacedRouter(110, log.router),)


CONTEXT = BoundedContext(
    name="audit",
    routers=routers,
    schedules=schedules,
    settings=("audit_key", "checkpoint_every_seconds"),
)
