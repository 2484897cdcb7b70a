"""Identity: users, accounts and sessions, devices, contacts and blocks, roles, presence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.identity.accounts import ACCOUNT_HANDLERS
from commands.identity.api_keys import API_KEY_HANDLERS
from commands.identity.contacts import CONTACT_HANDLERS
from commands.identity.roles import ROLE_HANDLERS
from commands.identity.users import (
    ChangePresenceVisibility,
    RegisterUser,
    change_presence_visibility,
    register_user,
)
from parley.contexts.manifest import BoundedContext, PlacedRouter
from projections.identity import api_keys, contacts, devices
from projections.identity.api_keys import ApiKeyQueries
from projections.identity.contacts import ContactQueries
from projections.identity.devices import DeviceQueries
from projections.identity.users import UserDirectoryProjector, UserDirectoryQueries
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return [UserDirectoryProjector(), *devices.projectors(), *contacts.projectors(),
            *api_keys.projectors()]


def routers() -> Sequence[PlacedRouter]:
    from api.identity import accounts, users
    from api.identity import contacts as contact_routes

    return (PlacedRouter(10, users.router),
            PlacedRouter(90, accounts.sessions), PlacedRouter(91, accounts.devices),
            PlacedRouter(100, contact_routes.contacts), PlacedRouter(101, contact_routes.blocks))


def problems() -> Sequence[ProblemRefinement[Any]]:
    from api.identity import problems as answers

    return answers.problems()


CONTEXT = BoundedContext(
    name="identity",
    handlers={
        RegisterUser: register_user,
        ChangePresenceVisibility: change_presence_visibility,
        **ACCOUNT_HANDLERS,
        **CONTACT_HANDLERS,
        **ROLE_HANDLERS,
        **API_KEY_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        "domain.identity.users",
        "domain.identity.devices",
        "domain.identity.contacts",
        "domain.identity.api_keys",  # for the listing; the digest is no credential (see there)
    ),
    # password hashes and refresh-token digests; the device roster is write-side bookkeeping;
    # roles are read from the log by the audit and admin routes; so is the API key roster
    log_only_event_modules=(
        "domain.identity.accounts",
        "domain.identity.device_roster",
        "domain.identity.roles",
        "domain.identity.api_key_roster",
    ),
    former_event_modules={
        "domain.users": "domain.identity.users",
        "domain.accounts": "domain.identity.accounts",
        "domain.devices": "domain.identity.devices",
        "domain.device_roster": "domain.identity.device_roster",
        "domain.contacts": "domain.identity.contacts",
        "domain.roles": "domain.identity.roles",
    },
    queries=(UserDirectoryQueries, DeviceQueries, ContactQueries, ApiKeyQueries),
    routers=routers,
    problems=problems,
    settings=(
        "secret_key", "token_ttl_seconds", "access_token_ttl_seconds", "max_devices_per_user",
        "signin_attempts_per_minute", "signin_free_failures", "signin_source_free_failures",
        "signin_backoff_max_seconds", "password_hash_workers", "password_hash_queue",
        "max_api_keys",
    ),
)
