"""Refresh-token rotation: a retired token presented again ends the grant (RFC 6819 5.2.2.3)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from commands.identity.accounts import new_refresh_token
from domain.identity.accounts import InvalidRefreshToken, RefreshGrant
from tests.builders import a_cause, now


def a_rotated_grant() -> tuple[RefreshGrant, str, str]:
    """A grant whose first token was exchanged for a second: (grant, retired, current)."""
    first = new_refresh_token(uuid.uuid4(), uuid.uuid4())
    second = new_refresh_token(first.user_id, first.device_id)
    grant = RefreshGrant.issue(first.user_id, first.device_id, first.digest,
                               now() + timedelta(days=30), a_cause())
    grant.rotate(first.digest, second.digest, now(), now() + timedelta(days=30), a_cause())
    return grant, first.digest, second.digest


def test_a_rotated_out_token_is_known_as_retired_and_a_made_up_one_is_not() -> None:
    grant, retired, current = a_rotated_grant()
    made_up = new_refresh_token(grant.user_id, grant.device_id).digest
    assert grant.was_retired(retired)
    assert not grant.was_retired(current) and not grant.was_retired(made_up)


def test_reuse_of_a_retired_token_is_recorded_and_withdraws_the_grant() -> None:
    grant, retired, current = a_rotated_grant()
    grant.revoke_for_reuse(retired, now(), a_cause())
    assert isinstance(grant.collect_events()[-1], RefreshGrant.ReuseDetected)
    with pytest.raises(InvalidRefreshToken):
        grant.rotate(current, "next", now(), now() + timedelta(days=30), a_cause())


def test_only_a_retired_token_counts_as_reuse() -> None:
    grant, _, current = a_rotated_grant()
    with pytest.raises(InvalidRefreshToken):
        grant.revoke_for_reuse(current, now(), a_cause())
    assert not grant.withdrawn


def test_a_grant_remembers_a_bounded_number_of_retired_tokens() -> None:
    grant, first_retired, _ = a_rotated_grant()
    for i in range(RefreshGrant.SPENT_DIGESTS_KEPT + 5):
        grant.rotate(grant.token_digest, f"digest {i}", now(), now() + timedelta(days=30),
                     a_cause())
    assert len(grant.spent_digests) == RefreshGrant.SPENT_DIGESTS_KEPT
    last_retired = f"digest {RefreshGrant.SPENT_DIGESTS_KEPT + 3}"
    assert not grant.was_retired(first_retired) and grant.was_retired(last_retired)
