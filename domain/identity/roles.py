"""Operator roles a user may hold (auditor, admin, reviewer), granted and revoked from the
operator's shell.

Roles are events on a small per-user aggregate, so who held which role, since when and who
granted it is itself part of the audit trail, as is every refused attempt to use the audit API.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from event_log.aggregate import Cause, ParleyAggregate

USER_ROLES_NAMESPACE = UUID("5b7d2e91-3c4a-4f08-9e61-a2d4c8b0f713")
OPERATOR_NAMESPACE = UUID("e1c94f27-8a3b-4d6e-b05f-7f2a9c3d1e84")
AUDITOR, ADMIN, REVIEWER = "auditor", "admin", "reviewer"
ROLES = (AUDITOR, ADMIN, REVIEWER)
AUDIT_ROLES = frozenset({AUDITOR, ADMIN})
# who decides payments held for review (the payments context's queue); admins may too
REVIEW_ROLES = frozenset({REVIEWER, ADMIN})
MAX_RECORDED_PATH = 512


class UnknownRole(InvalidCommand):
    """Only the roles Parley knows can be granted."""


def user_roles_id(user_id: UUID) -> UUID:
    return uuid5(USER_ROLES_NAMESPACE, str(user_id))


def operator_actor_id(operator: str) -> UUID:
    """The actor recorded for an operator's shell command: derived from the operator's login."""
    return uuid5(OPERATOR_NAMESPACE, operator)


def known_role(role: str) -> str:
    normalised = role.strip().lower()
    if normalised not in ROLES:
        raise UnknownRole("role", f"a role is one of: {', '.join(ROLES)}")
    return normalised


class UserRoles(ParleyAggregate):
    """The operator roles one user holds, and their refused attempts to inspect the log."""

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.roles: set[str] = set()

    class Started(ParleyAggregate.Created):
        user_id: UUID

    class RoleGranted(ParleyAggregate.Event):
        role: str
        operator: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, UserRoles)
            aggregate.roles.add(self.role)

    class RoleRevoked(ParleyAggregate.Event):
        role: str
        operator: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, UserRoles)
            aggregate.roles.discard(self.role)

    class AuditAccessDenied(ParleyAggregate.Event):
        method: str
        path: str

    @classmethod
    def start(cls, user_id: UUID, cause: Cause) -> UserRoles:
        return cls._create(cls.Started, id=user_roles_id(user_id), user_id=user_id,
                           **cause.as_event_fields())

    @property
    def may_audit(self) -> bool:
        return bool(self.roles & AUDIT_ROLES)

    def grant(self, role: str, operator: str, cause: Cause) -> bool:
        """Returns False (and records nothing) if the role is already held."""
        role = known_role(role)
        if role in self.roles:
            return False
        self.trigger_event(self.RoleGranted, role=role, operator=operator,
                           **cause.as_event_fields())
        return True

    def revoke(self, role: str, operator: str, cause: Cause) -> bool:
        """Returns False (and records nothing) if the role is not held."""
        role = known_role(role)
        if role not in self.roles:
            return False
        self.trigger_event(self.RoleRevoked, role=role, operator=operator,
                           **cause.as_event_fields())
        return True

    def record_denied_audit_access(self, method: str, path: str, cause: Cause) -> None:
        """A refused audit request, kept so auditors can see who probed (path truncated)."""
        self.trigger_event(self.AuditAccessDenied, method=method[:16],
                           path=path[:MAX_RECORDED_PATH], **cause.as_event_fields())
