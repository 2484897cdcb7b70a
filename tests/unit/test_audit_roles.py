"""Operator roles: granted and revoked by operators, recorded as events, checked per request."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import Application

from commands.identity.roles import (
    GrantRole,
    RecordAuditAccessDenied,
    RevokeRole,
    grant_role,
    held_roles,
    record_audit_access_denied,
    revoke_role,
)
from domain.identity.errors import UserNotFound
from domain.identity.roles import (
    MAX_RECORDED_PATH,
    UnknownRole,
    UserRoles,
    operator_actor_id,
    user_roles_id,
)
from domain.identity.users import User
from event_log.batch import Batch
from event_log.outcomes import Handler
from tests.builders import a_cause, a_handle


def a_user_roles() -> UserRoles:
    return UserRoles.start(uuid.uuid4(), a_cause())


def test_a_user_holds_no_role_until_one_is_granted() -> None:
    roles = a_user_roles()
    assert not roles.may_audit
    assert roles.grant("Auditor", "root", a_cause())
    assert roles.roles == {"auditor"} and roles.may_audit


def test_granting_a_held_role_or_revoking_an_absent_one_records_nothing() -> None:
    roles = a_user_roles()
    roles.grant("admin", "root", a_cause())
    recorded = len(roles.pending_events)
    assert not roles.grant("admin", "root", a_cause())
    assert not roles.revoke("auditor", "root", a_cause())
    assert len(roles.pending_events) == recorded


def test_a_revoked_role_no_longer_counts() -> None:
    roles = a_user_roles()
    roles.grant("auditor", "root", a_cause())
    assert roles.revoke("auditor", "root", a_cause())
    assert not roles.may_audit


def test_only_known_roles_can_be_granted() -> None:
    with pytest.raises(UnknownRole):
        a_user_roles().grant("superuser", "root", a_cause())


def test_the_grant_records_the_operator_who_made_it() -> None:
    roles = a_user_roles()
    cause = a_cause(operator_actor_id("alice"))
    roles.grant("auditor", "alice", cause)
    granted = roles.pending_events[-1]
    assert isinstance(granted, UserRoles.RoleGranted)
    assert granted.operator == "alice" and granted.actor_id == operator_actor_id("alice")


def test_a_denied_access_is_recorded_with_a_bounded_path() -> None:
    roles = a_user_roles()
    roles.record_denied_audit_access("GET", "/v1/audit/" + "x" * 5000, a_cause())
    denied = roles.pending_events[-1]
    assert isinstance(denied, UserRoles.AuditAccessDenied)
    assert denied.method == "GET" and len(denied.path) == MAX_RECORDED_PATH
    assert roles.roles == set()


def test_roles_of_someone_who_never_registered_cannot_be_granted() -> None:
    batch = Batch(Application().repository)
    with pytest.raises(UserNotFound):
        grant_role(batch, GrantRole(uuid.uuid4(), "auditor", "root"), a_cause())


def test_grants_and_revokes_are_read_back_from_the_log() -> None:
    app = Application[uuid.UUID]()
    user = User.register(a_handle(), "Ada", a_cause())
    app.save(user)
    steps: list[tuple[object, Handler]] = [(GrantRole(user.id, "auditor", "root"), grant_role),
                                           (GrantRole(user.id, "admin", "root"), grant_role),
                                           (RevokeRole(user.id, "admin", "root"), revoke_role)]
    for command, handler in steps:
        batch = Batch(app.repository)
        handler(batch, command, a_cause())
        app.save(*batch.touched())
    assert held_roles(app.repository, user.id) == {"auditor"}
    assert held_roles(app.repository, uuid.uuid4()) == frozenset()


def test_a_denial_starts_the_roles_of_a_user_who_had_none() -> None:
    app = Application[uuid.UUID]()
    user_id = uuid.uuid4()
    batch = Batch(app.repository)
    record_audit_access_denied(batch, RecordAuditAccessDenied(user_id, "GET", "/v1/audit/events"),
                               a_cause(user_id))
    app.save(*batch.touched())
    assert held_roles(app.repository, user_id) == frozenset()
    roles: object = app.repository.get(user_roles_id(user_id))
    assert isinstance(roles, UserRoles) and roles.version == 2
