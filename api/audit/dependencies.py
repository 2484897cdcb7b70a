"""What the audit routes (and the admin routes' gate) are given, typed and never None."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.audit.chain_check import ChainCheck
from api.http.command_writer import CommandWriter
from api.http.dependencies import ParleyDep
from commands.audit.queries import AuditLog
from commands.identity.roles import held_roles


@dataclass(frozen=True)
class AccessCheck:
    """Who holds which roles (read from the log itself), and where a refusal is recorded."""

    roles_of: Callable[[uuid.UUID], frozenset[str]]
    writer: CommandWriter


async def get_audit_log(parley: ParleyDep) -> AuditLog:
    return parley.audit


async def get_access_check(parley: ParleyDep) -> AccessCheck:
    repository = parley.event_log.repository
    return AccessCheck(lambda user_id: held_roles(repository, user_id), parley.writer)


async def get_chain_check(parley: ParleyDep) -> ChainCheck:
    return parley.chain_check


Audit = Annotated[AuditLog, Depends(get_audit_log)]
Access = Annotated[AccessCheck, Depends(get_access_check)]
Chain = Annotated[ChainCheck, Depends(get_chain_check)]
