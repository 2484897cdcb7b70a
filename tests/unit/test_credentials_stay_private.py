"""Password hashes and refresh-token digests never leave the event log."""

from __future__ import annotations

import json

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from commands.identity.users import register_user
from domain.identity.accounts import Credentials, RefreshGrant
from domain.identity.devices import Device
from event_log.batch import Batch
from parley.contexts import context_of
from projections.identity.contacts import projectors as contact_projectors
from projections.identity.devices import projectors as account_projectors
from projections.identity.users import UserDirectoryProjector
from tests.builders import a_cause, a_registration_with_a_session

PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$c2VjcmV0LWhhc2g"


def registration_events() -> tuple[list[object], str]:
    """Every event a registration with a first session records."""
    registration, token = a_registration_with_a_session(PASSWORD_HASH)
    batch = Batch(Application().repository)
    register_user(batch, registration, a_cause())
    return [e for a in batch.touched() for e in a.collect_events()], token.digest


def test_credential_events_belong_to_no_relayed_context() -> None:
    for kind in (Credentials.Established, RefreshGrant.Issued, RefreshGrant.Rotated,
                 RefreshGrant.Withdrawn, RefreshGrant.ReuseDetected):
        assert context_of(get_topic(kind)) is None, kind
    assert context_of(get_topic(Device.SignedIn)) == "identity"


def test_everything_relayed_from_a_registration_is_free_of_secrets() -> None:
    events, digest = registration_events()
    relayed = [e for e in events if context_of(get_topic(type(e))) is not None]
    assert {type(e).__name__ for e in relayed} == {"Registered", "SignedIn"}
    mapper = Application().mapper
    for event in relayed:
        state = mapper.to_stored_event(event).state.decode()  # what the relay publishes
        assert PASSWORD_HASH not in state and digest not in state


def test_no_projector_writes_a_secret_into_a_read_model() -> None:
    events, digest = registration_events()
    projectors = [UserDirectoryProjector(), *account_projectors(), *contact_projectors()]
    changes = [c for p in projectors for i, e in enumerate(events, 1) for c in p.changes(e, i)]
    assert changes, "nothing was projected at all"
    written = json.dumps([c.fields for c in changes])
    assert PASSWORD_HASH not in written and digest not in written
