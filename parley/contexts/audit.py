"""Audit: the hash chain and its signed checkpoints, and audit queries over the event log.

It records no events of its own (a refused audit request is an identity `UserRoles` event)
and has no read models: audit reads the log itself."""

from __future__ import annotations

from collections.abc import Sequence

from parley.contexts.manifest import BoundedContext, PlacedRouter


def routers() -> Sequence[PlacedRouter]:
    from api.audit import log

    return (PlacedRouter(110, log.router),)


CONTEXT = BoundedContext(
    name="audit",
    routers=routers,
    settings=("audit_key", "checkpoint_every_seconds"),
)
