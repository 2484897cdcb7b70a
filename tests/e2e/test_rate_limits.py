"""Sending is rate-limited per person: past the burst, 429 with Retry-After."""

from __future__ import annotations

import pytest

from tests.builders import ParleyClient
from tests.e2e.conftest import PROFILES

pytestmark = [PROFILES, pytest.mark.parley_env(PARLEY_SEND_RATE_PER_SECOND="0.5",
                                               PARLEY_SEND_BURST="3")]


def test_a_fast_sender_is_told_when_to_retry_and_others_are_unaffected(
    parley: ParleyClient,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    statuses = [parley.send(ada, chat, f"spam {i}").status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    refused = parley.send(ada, chat, "more")
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert parley.send(bob, chat, "my turn").status_code == 201
