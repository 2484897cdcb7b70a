"""What identity's routes are given, typed and never None (built by the composition root)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.http.dependencies import ParleyDep
from projections.identity.contacts import ContactQueries
from projections.identity.devices import DeviceQueries
from projections.identity.users import UserDirectoryQueries


async def get_devices(parley: ParleyDep) -> DeviceQueries:
    return parley.devices


async def get_contacts(parley: ParleyDep) -> ContactQueries:
    return parley.contacts


async def get_user_directory(parley: ParleyDep) -> UserDirectoryQueries:
    return parley.users


Devices = Annotated[DeviceQueries, Depends(get_devices)]
Contacts = Annotated[ContactQueries, Depends(get_contacts)]
UserDirectory = Annotated[UserDirectoryQueries, Depends(get_user_directory)]
