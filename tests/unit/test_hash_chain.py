"""The hash chain's encoding and the signing of checkpoints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_log.hash_chain import (
    GENESIS_HASH,
    NO_POSITION,
    LoggedEvent,
    checkpoint_is_authentic,
    event_digest,
    extend_chain,
    next_link,
    sign_checkpoint,
)

KEY = b"auditor-key"
AT = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def an_event(position: int = 1, state: bytes = b'{"handle":"ada"}',
             topic: str = "domain.users:User.Registered") -> LoggedEvent:
    return LoggedEvent(position, "9b2f6c1e-8d4a-4c3b-9a7e-1f2d3c4b5a69", 1, topic, state)


def test_the_encoding_is_pinned_because_postgresql_computes_it_too() -> None:
    link = next_link(None, an_event())
    assert GENESIS_HASH.hex() == (
        "f51357c5ae5c2fcff08f115b0ed08a6b3d4a220fa6806d241f55a42074d22315")
    assert link.event_digest.hex() == (
        "b3dff3e3eec737b5136c26d99af4d0823e7a7baf2428f037001360753bfa791f")
    assert link.hash.hex() == (
        "eda277daa7d4c0dcbabb01a0ebeae5ea3f595f66afcc12dd0869c85fc33e7db4")


@pytest.mark.parametrize("change", [
    {"originator_id": "00000000-0000-0000-0000-000000000000"},
    {"originator_version": 2},
    {"topic": "domain.users:User.Renamed"},
    {"state": b'{"handle":"eve"}'},
])
def test_every_field_of_the_record_is_covered(change: dict[str, object]) -> None:
    event = an_event()
    assert event_digest(dataclasses.replace(event, **change)) != event_digest(event)  # type: ignore[arg-type]


def test_fields_cannot_trade_bytes_across_their_boundary() -> None:
    assert event_digest(an_event(topic="ab", state=b"c")) != event_digest(
        an_event(topic="a", state=b"bc"))


def test_a_link_binds_its_position_and_the_link_before_it() -> None:
    first = next_link(None, an_event(1))
    assert (first.previous_position, first.position) == (NO_POSITION, 1)
    same_event_elsewhere = next_link(None, an_event(2))
    after_first = next_link(first, an_event(2))
    assert len({first.hash, same_event_elsewhere.hash, after_first.hash}) == 3
    assert after_first.previous_position == 1


def test_extending_the_chain_follows_log_order_whatever_the_input_order() -> None:
    events = [an_event(p, state=str(p).encode()) for p in (3, 1, 7)]
    links = extend_chain(None, events)
    assert [k.position for k in links] == [1, 3, 7]
    assert [k.previous_position for k in links] == [0, 1, 3]
    assert extend_chain(links[0], [events[0], events[2]]) == links[1:]


def test_a_checkpoint_signed_with_the_key_is_authentic() -> None:
    head = next_link(None, an_event())
    checkpoint = sign_checkpoint(KEY, head, AT)
    assert checkpoint_is_authentic(KEY, checkpoint)
    in_another_zone = dataclasses.replace(
        checkpoint, signed_at=AT.astimezone(timezone(timedelta(hours=2))))
    assert checkpoint_is_authentic(KEY, in_another_zone)


@given(st.sampled_from(["position", "head_hash", "signed_at", "signature", "key"]))
def test_any_change_to_a_checkpoint_or_its_key_fails_authentication(part: str) -> None:
    checkpoint = sign_checkpoint(KEY, next_link(None, an_event()), AT)
    changes = {"position": {"position": 2}, "head_hash": {"head_hash": GENESIS_HASH},
               "signed_at": {"signed_at": AT + timedelta(microseconds=1)},
               "signature": {"signature": bytes(32)}}
    if part == "key":
        assert not checkpoint_is_authentic(b"another key", checkpoint)
    else:
        altered = dataclasses.replace(checkpoint, **changes[part])  # type: ignore[arg-type]
        assert not checkpoint_is_authentic(KEY, altered)
