"""API keys: issued with known scopes, stored as a digest, revoked once, found from the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from commands.audit.entries import REDACTED, payload_of, state_of
from commands.identity.api_keys import (
    ApiKeyNotFound,
    RevokeApiKey,
    issue_api_key,
    issued_api_keys,
    new_api_key,
    presented_api_key,
    revoke_api_key,
)
from domain.errors import InvalidCommand
from domain.identity.api_key_roster import ApiKeyRoster, TooManyApiKeys
from domain.identity.api_keys import (
    SCOPES,
    ApiKey,
    UnknownScope,
    api_key_id,
    presented_key,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from parley.contexts import context_of
from projections.identity.api_keys import ApiKeyListingProjector
from tests.builders import a_cause, an_api_key, now

T = TypeVar("T")


class Log:
    """An in-memory event log and the handlers run on it, one batch per command."""

    def __init__(self) -> None:
        self.app = Application()

    def run(self, handler: Callable[[Batch, Any, Cause], T], command: object) -> T:
        batch = Batch(self.app.repository)
        result = handler(batch, command, a_cause())
        self.app.save(*batch.touched())
        return result

    def events(self) -> list[object]:
        return [self.app.mapper.to_domain_event(n)
                for n in self.app.recorder.select_notifications(start=1, limit=1000)]


def test_an_issued_key_is_presented_as_pk_its_id_and_its_secret() -> None:
    key = new_api_key()
    parts = presented_key(key.presented)
    assert key.presented.startswith(f"pk_{key.key_id}_")
    assert parts is not None and parts.key_id == key.key_id and parts.secret == key.secret
    assert len(key.key_id) == 16 and len(key.secret) == 43  # 64 bits of id, 256 of secret


def test_the_digest_stored_is_never_the_key_nor_its_secret() -> None:
    log = Log()
    command, key = an_api_key()
    log.run(issue_api_key, command)
    stored = json.dumps([log.app.mapper.to_stored_event(e).state.decode()  # type: ignore[arg-type]
                         for e in log.events()])
    assert key.digest in stored
    assert key.presented not in stored and key.secret not in stored
    assert key.digest != key.presented and key.secret not in key.digest


def test_secrets_are_not_in_reprs() -> None:
    command, key = an_api_key()
    presented = presented_key(key.presented)
    issued = ApiKey.issue(command.key_id, command.name, command.scopes, key.digest, now(),
                          None, a_cause())
    for value in (command, key, presented, issued):
        assert key.secret not in repr(value) and key.digest not in repr(value)


def test_a_key_admits_only_its_own_secret_and_only_while_live() -> None:
    log = Log()
    command, key = an_api_key()
    log.run(issue_api_key, command)
    other = new_api_key()
    assert presented_api_key(log.app.repository, key.presented) is not None
    assert presented_api_key(log.app.repository, other.presented) is None  # unknown id
    forged = f"pk_{key.key_id}_{other.secret}"
    assert presented_api_key(log.app.repository, forged) is None  # known id, wrong secret
    log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    assert presented_api_key(log.app.repository, key.presented) is None


@pytest.mark.parametrize("text", ["", "pk_", "pk_abc_def", "Bearer pk_x", "eyJhbGciOi.x.y",
                                  "pk_0123456789ABCDEF_" + "a" * 43,
                                  "pk_0123456789abcdef_" + "a" * 42,
                                  "pk_0123456789abcdef_" + "a" * 42 + "="])
def test_anything_not_shaped_like_a_key_presents_none(text: str) -> None:
    assert presented_key(text) is None


def test_a_key_is_revoked_once() -> None:
    log = Log()
    command, key = an_api_key()
    log.run(issue_api_key, command)
    first = log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    again = log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    assert first.changed and not again.changed
    revoked = [e for e in log.events() if isinstance(e, ApiKey.Revoked)]
    assert len(revoked) == 1


def test_revoking_a_key_never_issued_is_refused() -> None:
    with pytest.raises(ApiKeyNotFound):
        Log().run(revoke_api_key, RevokeApiKey(new_api_key().key_id, now()))


def test_an_unknown_scope_is_refused_at_creation() -> None:
    command, key = an_api_key("notifications:trigger", "notifications:everything")
    with pytest.raises(UnknownScope, match="notifications:everything"):
        ApiKey.issue(command.key_id, command.name, command.scopes, key.digest, now(), None,
                     a_cause())


def test_a_key_needs_a_scope_and_a_name() -> None:
    command, key = an_api_key()
    with pytest.raises(InvalidCommand):
        ApiKey.issue(command.key_id, command.name, (), key.digest, now(), None, a_cause())
    with pytest.raises(InvalidCommand):
        ApiKey.issue(command.key_id, "  ", command.scopes, key.digest, now(), None, a_cause())


def test_scopes_are_kept_in_one_order_without_repeats() -> None:
    command, key = an_api_key(*reversed(SCOPES), "notifications:read")
    issued = ApiKey.issue(command.key_id, command.name, command.scopes, key.digest, now(),
                          None, a_cause())
    assert issued.scopes == SCOPES


def test_no_more_live_keys_than_the_limit_and_a_revoked_one_makes_room() -> None:
    log = Log()
    (first, key), (second, _) = an_api_key(max_live=2), an_api_key(max_live=2)
    log.run(issue_api_key, first)
    log.run(issue_api_key, second)
    third, _ = an_api_key(max_live=2)
    with pytest.raises(TooManyApiKeys):
        log.run(issue_api_key, third)
    log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    log.run(issue_api_key, third)
    assert len(issued_api_keys(log.app.repository)) == 3


def test_the_listing_from_the_log_shows_every_key_and_no_secret() -> None:
    log = Log()
    (first, key), (second, _) = an_api_key(name="billing"), an_api_key(name="alerts")
    log.run(issue_api_key, first)
    log.run(issue_api_key, second)
    log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    listed = issued_api_keys(log.app.repository)
    assert [(k.name, k.revoked_at is None) for k in listed] == [("billing", False),
                                                                 ("alerts", True)]
    assert key.digest not in repr(listed)


def test_the_listing_read_model_holds_no_digest() -> None:
    log = Log()
    command, key = an_api_key()
    log.run(issue_api_key, command)
    log.run(revoke_api_key, RevokeApiKey(key.key_id, now()))
    projector = ApiKeyListingProjector()
    changes = [c for i, e in enumerate(log.events(), 1) for c in projector.changes(e, i)]
    assert [c.fields.get("state") for c in changes] == ["live", "revoked"]
    assert {c.doc_id for c in changes} == {str(api_key_id(key.key_id))}
    assert key.digest not in json.dumps([c.fields for c in changes])


def test_keys_are_relayed_for_the_listing_and_the_roster_stays_in_the_log() -> None:
    assert context_of(get_topic(ApiKey.Issued)) == "identity"
    assert context_of(get_topic(ApiKeyRoster.KeyAdmitted)) is None


def test_auditors_see_the_digest_redacted() -> None:
    command, key = an_api_key()
    issued = ApiKey.issue(command.key_id, command.name, command.scopes, key.digest, now(),
                          None, a_cause())
    assert state_of(issued)["secret_digest"] == REDACTED
    assert payload_of(issued.collect_events()[0])["secret_digest"] == REDACTED
