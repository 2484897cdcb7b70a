"""What an auditor is shown: plain JSON, secrets redacted, field-level diffs, filters."""

from __future__ import annotations

import json
import typing
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from commands.audit.entries import (
    REDACTED,
    SECRET_FIELDS,
    FieldChange,
    LoggedEvent,
    diff_states,
    entry_of,
    event_topics,
    plain,
    state_of,
)
from commands.audit.queries import AuditCriteria, actor_id_of, audit_criteria, log_bound
from commands.identity.users import register_user
from domain.errors import InvalidCommand
from domain.identity.accounts import Credentials, RefreshGrant
from domain.identity.users import User, user_id_for_handle
from event_log.batch import Batch
from tests.builders import a_cause, a_handle, a_registration_with_a_session, now

PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$c2VjcmV0LWhhc2g"


def registered_aggregates() -> tuple[list[Aggregate], str]:
    """The aggregates a registration with a first session creates, and the token digest."""
    registration, token = a_registration_with_a_session(PASSWORD_HASH, "laptop")
    batch = Batch(Application().repository)
    register_user(batch, registration, a_cause())
    return list(batch.touched()), token.digest


def test_password_hashes_and_token_digests_are_redacted_in_payloads_and_states() -> None:
    aggregates, digest = registered_aggregates()
    grant = next(a for a in aggregates if isinstance(a, RefreshGrant))
    grant.rotate(digest, "next-digest-secret", now(), now() + timedelta(days=1), a_cause())
    shown = [entry_of(LoggedEvent(i, e), state_of(a)).as_json()
             for a in aggregates for i, e in enumerate(a.pending_events, 1)]
    text = json.dumps(shown)
    assert PASSWORD_HASH not in text and digest not in text and "next-digest-secret" not in text
    credentials = next(s for s in shown if s["type"] == "Credentials.Established")
    assert credentials["payload"]["password_hash"] == REDACTED
    assert credentials["state"]["password_hash"] == REDACTED
    rotated = next(s for s in shown if s["type"] == "RefreshGrant.Rotated")
    assert rotated["payload"]["token_digest"] == REDACTED


@pytest.mark.parametrize("event_class", [Credentials.Established, RefreshGrant.Issued,
                                         RefreshGrant.Rotated])
def test_every_text_field_of_a_credentials_event_is_redacted(event_class: type) -> None:
    """A new secret added to these events must be added to SECRET_FIELDS too."""
    hints = typing.get_type_hints(event_class)
    text_fields = {name for name, kind in hints.items() if kind is str}
    assert text_fields - {"originator_topic"}, "no secret field found: this checks nothing"
    assert text_fields - {"originator_topic"} <= SECRET_FIELDS


def test_an_entry_carries_actor_correlation_and_causation() -> None:
    cause = a_cause()
    user = User.register(a_handle(), "Ada", cause)
    entry = entry_of(LoggedEvent(7, user.pending_events[0])).as_json()
    assert entry["position"] == 7 and entry["version"] == 1
    assert entry["type"] == "User.Registered" and entry["aggregate_type"] == "User"
    assert entry["actor_id"] == str(cause.actor_id)
    assert entry["correlation_id"] == str(cause.correlation_id)
    assert entry["causation_id"] is None
    assert entry["payload"] == {"handle": user.handle, "name": "Ada"}
    assert "state" not in entry


def test_plain_json_sorts_sets_and_unpacks_ids_times_tuples_and_dataclasses() -> None:
    @dataclass
    class Window:
        joined: int

    member = uuid.uuid4()
    moment = datetime(2025, 3, 14, 9, 26, tzinfo=UTC)
    assert plain({"reactions": {(member, "b"), (member, "a")}, "at": moment,
                  "window": Window(3), member: 1}) == {
        "reactions": [[str(member), "a"], [str(member), "b"]],
        "at": "2025-03-14T09:26:00+00:00", "window": {"joined": 3}, str(member): 1}


def test_diff_lists_changed_added_and_removed_fields_with_nested_paths() -> None:
    before = {"name": "Ada", "avatar": None, "settings": {"muted": False, "pinned": True},
              "old": 1}
    after = {"name": "Ada King", "avatar": None, "settings": {"muted": True, "pinned": True},
             "new": [1, 2]}
    assert diff_states(before, after) == [
        FieldChange("name", "Ada", "Ada King"),
        FieldChange("new", None, [1, 2]),
        FieldChange("old", 1, None),
        FieldChange("settings.muted", False, True),
    ]


def test_diff_of_equal_states_is_empty() -> None:
    state = {"name": "Ada", "members": ["a", "b"], "nested": {"x": 1}}
    assert diff_states(state, json.loads(json.dumps(state))) == []


def test_criteria_hold_only_when_every_given_criterion_holds() -> None:
    cause = a_cause()
    event = User.register(a_handle(), "Ada", cause).pending_events[0]
    stamped = event.timestamp
    assert AuditCriteria().matches(event)
    assert AuditCriteria(actor_id=cause.actor_id, correlation_id=cause.correlation_id,
                         types=("User.Registered",), since=stamped, until=stamped).matches(event)
    assert not AuditCriteria(actor_id=uuid.uuid4()).matches(event)
    assert not AuditCriteria(correlation_id=uuid.uuid4()).matches(event)
    assert not AuditCriteria(types=("User.ProfileChanged",)).matches(event)
    assert not AuditCriteria(since=stamped + timedelta(microseconds=1)).matches(event)
    assert not AuditCriteria(until=stamped - timedelta(microseconds=1)).matches(event)


def test_a_bound_is_a_position_or_a_time_which_is_utc_when_no_offset_is_given() -> None:
    assert log_bound("42", "from") == 42
    assert log_bound("2025-03-14T09:26:00Z", "from") == datetime(2025, 3, 14, 9, 26,
                                                                 tzinfo=UTC)
    assert log_bound("2025-03-14T09:26:00", "from") == datetime(2025, 3, 14, 9, 26, tzinfo=UTC)
    with pytest.raises(InvalidCommand) as refused:
        log_bound("yesterday", "until")
    assert refused.value.field == "until"
    for unusable in ("²", "9" * 30, "-3"):
        with pytest.raises(InvalidCommand):
            log_bound(unusable, "from")


def test_criteria_from_typed_input_split_types_and_name_actors_by_handle() -> None:
    criteria = audit_criteria("Ada_L", None, ["User.Registered, Message.Edited", "Device.Revoked"],
                              "10", "2025-03-14T09:26:00+00:00")
    assert criteria.actor_id == user_id_for_handle("ada_l") == actor_id_of("ada_l")
    assert criteria.types == ("User.Registered", "Message.Edited", "Device.Revoked")
    assert criteria.from_position == 10 and criteria.since is None
    assert criteria.until == datetime(2025, 3, 14, 9, 26, tzinfo=UTC)
    assert criteria.until_position is None
    with pytest.raises(InvalidCommand):
        actor_id_of("no spaces allowed")


def test_event_types_name_every_event_class_but_not_the_library_bases() -> None:
    topics = event_topics()
    assert topics["User.Registered"] == "domain.identity.users:User.Registered"
    assert "Conversation.MessageSent" in topics and "UserRoles.AuditAccessDenied" in topics
    assert "User.Event" not in topics and "User.Created" not in topics
