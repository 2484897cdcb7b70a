"""Commands about operator roles: grant and revoke (from the CLI), and refused audit access."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository

from domain.identity.errors import UserNotFound
from domain.identity.roles import UserRoles, user_roles_id
from domain.identity.users import User
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class GrantRole:
    user_id: UUID
    role: str
    operator: str


@dataclass(frozen=True)
class RevokeRole:
    user_id: UUID
    role: str
    operator: str


@dataclass(frozen=True)
class RecordAuditAccessDenied:
    user_id: UUID
    method: str
    path: str


@dataclass(frozen=True)
class RolesHeld:
    """The roles the user holds after a grant or revoke; `changed`: it made a difference."""

    user_id: UUID
    roles: tuple[str, ...]
    changed: bool


@dataclass(frozen=True)
class AuditAccessDenialRecorded:
    """The refusal is on the record."""


def roles_held(roles: UserRoles, changed: bool) -> RolesHeld:
    return RolesHeld(roles.user_id, tuple(sorted(roles.roles)), changed)


def user_roles(batch: Batch, user_id: UUID, cause: Cause) -> UserRoles:
    """The user's roles aggregate, started on first use."""
    roles = batch.find(UserRoles, user_roles_id(user_id))
    if roles is None:
        roles = UserRoles.start(user_id, cause)
        batch.add(roles)
    return roles


def grant_role(batch: Batch, command: GrantRole, cause: Cause) -> RolesHeld:
    if batch.find(User, command.user_id) is None:
        raise UserNotFound("user", "no such user")
    roles = user_roles(batch, command.user_id, cause)
    changed = roles.grant(command.role, command.operator, cause)
    return roles_held(roles, changed)


def revoke_role(batch: Batch, command: RevokeRole, cause: Cause) -> RolesHeld:
    if batch.find(User, command.user_id) is None:
        raise UserNotFound("user", "no such user")
    roles = user_roles(batch, command.user_id, cause)
    changed = roles.revoke(command.role, command.operator, cause)
    return roles_held(roles, changed)


def record_audit_access_denied(batch: Batch, command: RecordAuditAccessDenied,
                               cause: Cause) -> AuditAccessDenialRecorded:
    roles = user_roles(batch, command.user_id, cause)
    roles.record_denied_audit_access(command.method, command.path, cause)
    return AuditAccessDenialRecorded()


def held_roles(repository: Repository, user_id: UUID) -> frozenset[str]:  # type: ignore[type-arg]
    """The roles a user holds now, read from the log itself.

    The repository's cached aggregate is fast-forwarded with any newer events on each read,
    so a grant or revoke from the operator's shell counts on the very next request.
    """
    try:
        roles: object = repository.get(user_roles_id(user_id))
    except AggregateNotFoundError:
        return frozenset()
    return frozenset(roles.roles) if isinstance(roles, UserRoles) else frozenset()


ROLE_HANDLERS: dict[type, Handler] = {
    GrantRole: grant_role,
    RevokeRole: revoke_role,
    RecordAuditAccessDenied: record_audit_access_denied,
}
