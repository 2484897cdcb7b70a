"""Sign-in, refresh and revocation through the group-commit writer, on the embedded log."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from adapters.identity.argon2_passwords import Argon2Passwords
from commands.identity.accounts import (
    RefreshSession,
    RefreshToken,
    ReusedRefreshTokenRevoked,
    RevokeDevice,
    SignIn,
    new_refresh_token,
    verified_password_hash,
)
from domain.identity.accounts import InvalidCredentials, InvalidRefreshToken
from domain.identity.devices import DeviceNotFound
from event_log.batch import Batch
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from tests.builders import a_cause, a_registration_with_a_session, a_session, now

PASSWORD = "correct horse battery"
FAST_ARGON2 = Argon2Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def registered(writer: GroupCommitWriter) -> tuple[uuid.UUID, RefreshToken]:
    registration, token = a_registration_with_a_session(FAST_ARGON2.hash(PASSWORD))
    writer.execute(registration, a_cause(token.user_id))
    return token.user_id, token


def sign_in(writer: GroupCommitWriter, event_log: EventLog, user_id: uuid.UUID | None,
            password: str = PASSWORD) -> RefreshToken:
    verified = verified_password_hash(Batch(event_log.repository), FAST_ARGON2, user_id, password)
    assert user_id is not None
    session, token = a_session(user_id)
    writer.execute(SignIn(user_id, verified, session), a_cause(user_id))
    return token


def refresh(writer: GroupCommitWriter, presented: RefreshToken) -> RefreshToken:
    replacement = new_refresh_token(presented.user_id, presented.device_id)
    writer.execute(RefreshSession(presented, replacement.digest, now(),
                                  now() + timedelta(days=30)), a_cause(presented.user_id))
    return replacement


def test_the_right_password_signs_in_and_a_wrong_or_unknown_one_does_not(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    ada, _ = registered(writer)
    assert sign_in(writer, event_log, ada).user_id == ada
    with pytest.raises(InvalidCredentials):
        sign_in(writer, event_log, ada, "wrong password")
    with pytest.raises(InvalidCredentials):
        sign_in(writer, event_log, uuid.uuid4())
    with pytest.raises(InvalidCredentials):
        sign_in(writer, event_log, None)


def test_concurrent_sign_ins_of_one_user_all_succeed(writer: GroupCommitWriter,
                                                     event_log: EventLog) -> None:
    ada, _ = registered(writer)
    verified = verified_password_hash(Batch(event_log.repository), FAST_ARGON2, ada, PASSWORD)
    futures = [writer.submit(SignIn(ada, verified, a_session(ada)[0]), a_cause(ada))
               for _ in range(10)]
    assert len({f.result(timeout=10).result.device_id for f in futures}) == 10


def test_a_sign_in_verified_against_a_stale_hash_is_refused(writer: GroupCommitWriter) -> None:
    ada, _ = registered(writer)
    with pytest.raises(InvalidCredentials):
        writer.execute(SignIn(ada, FAST_ARGON2.hash(PASSWORD), a_session(ada)[0]), a_cause(ada))


def test_refreshing_rotates_the_token_and_the_next_one_works(writer: GroupCommitWriter) -> None:
    _, first = registered(writer)
    second = refresh(writer, first)
    refresh(writer, second)


def test_reusing_a_rotated_out_token_revokes_the_grant(writer: GroupCommitWriter) -> None:
    _, first = registered(writer)
    second = refresh(writer, first)
    reused = writer.execute(RefreshSession(first, "digest-never-issued", now(),
                                           now() + timedelta(days=30)), a_cause(first.user_id))
    assert isinstance(reused.result, ReusedRefreshTokenRevoked)
    with pytest.raises(InvalidRefreshToken):
        refresh(writer, second)


def test_a_refresh_token_cannot_be_moved_to_another_user(writer: GroupCommitWriter) -> None:
    _, token = registered(writer)
    moved = RefreshToken(token.value, uuid.uuid4(), token.device_id, token.digest)
    with pytest.raises(InvalidRefreshToken):
        refresh(writer, moved)


def test_a_revoked_device_cannot_refresh_and_is_revoked_once(writer: GroupCommitWriter,
                                                              event_log: EventLog) -> None:
    ada, registration = registered(writer)
    phone = sign_in(writer, event_log, ada)
    writer.execute(RevokeDevice(ada, phone.device_id, now()), a_cause(ada))
    with pytest.raises(InvalidRefreshToken):
        refresh(writer, phone)
    with pytest.raises(DeviceNotFound):
        writer.execute(RevokeDevice(ada, phone.device_id, now()), a_cause(ada))
    refresh(writer, registration)  # the other device is untouched


def test_nobody_revokes_a_device_of_someone_else(writer: GroupCommitWriter) -> None:
    _, ada_token = registered(writer)
    eve, _ = registered(writer)
    with pytest.raises(DeviceNotFound):
        writer.execute(RevokeDevice(eve, ada_token.device_id, now()), a_cause(eve))
    with pytest.raises(DeviceNotFound):
        writer.execute(RevokeDevice(eve, uuid.uuid4(), now()), a_cause(eve))
    refresh(writer, ada_token)
