"""What identity's routes are given, typed and never None (built by the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.http.command_writer import CommandWriter
from api.http.dependencies import AccessTokens, ParleyDep, get_access_tokens
from api.identity.hashing_pool import HashingPool
from api.identity.sign_in_throttle import SignInThrottle
from domain.identity.passwords import PasswordPolicy
from event_log.batch import Batch
from projections.identity.contacts import ContactQueries
from projections.identity.devices import DeviceQueries
from projections.identity.users import UserDirectoryQueries
from projections.read_model.consistency import ConsistencyGate


async def get_devices(parley: ParleyDep) -> DeviceQueries:
    return parley.devices


async def get_contacts(parley: ParleyDep) -> ContactQueries:
    return parley.contacts


async def get_user_directory(parley: ParleyDep) -> UserDirectoryQueries:
    return parley.users


Devices = Annotated[DeviceQueries, Depends(get_devices)]
Contacts = Annotated[ContactQueries, Depends(get_contacts)]
UserDirectory = Annotated[UserDirectoryQueries, Depends(get_user_directory)]


async def get_password_hashing(parley: ParleyDep) -> HashingPool:
    """The password KDF on its own bounded pool (api/identity/hashing_pool.py)."""
    return parley.password_hashing


Hashing = Annotated[HashingPool, Depends(get_password_hashing)]


@dataclass(frozen=True)
class Sessions:
    """What signing in, refreshing, registering and revoking a device need."""

    tokens: AccessTokens
    writer: CommandWriter
    gate: ConsistencyGate
    devices: DeviceQueries
    throttle: SignInThrottle
    password_policy: PasswordPolicy
    new_batch: Callable[[], Batch]  # reads credentials on the event log's repository
    token_ttl_seconds: int
    max_devices_per_user: int


async def get_sessions(parley: ParleyDep) -> Sessions:
    repository = parley.event_log.repository
    return Sessions(await get_access_tokens(parley), parley.writer, parley.gate, parley.devices,
                    parley.sign_in_throttle, parley.password_policy, lambda: Batch(repository),
                    parley.settings.token_ttl_seconds, parley.settings.max_devices_per_user)


SessionsDep = Annotated[Sessions, Depends(get_sessions)]
