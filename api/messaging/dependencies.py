"""What messaging's routes are given, typed and never None (built by the composition root)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.http.dependencies import ParleyDep
from projections.messaging.invitations import InvitationQueries


async def get_invitations(parley: ParleyDep) -> InvitationQueries:
    return parley.invitations


Invitations = Annotated[InvitationQueries, Depends(get_invitations)]
