"""The card processor as the payments context's process managers and schedules reach it:
built from settings (H6 fills this in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commands.processes.issuing import Effect
from commands.processes.schedules import Schedule
from parley.contexts.manifest import EffectParts, ScheduleParts


def processor_effects(parts: EffectParts) -> Mapping[type, Effect]:
    return {}


def processor_schedules(parts: ScheduleParts) -> Sequence[Schedule]:
    return ()
