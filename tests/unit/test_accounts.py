"""Accounts: password rules, credentials, refresh-token rotation, devices and profiles."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.read_model.memory_cache import MemoryCache
from commands.identity.accounts import new_refresh_token, read_refresh_token, token_digest
from domain.errors import InvalidCommand
from domain.identity.accounts import (
    Credentials,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshGrant,
    clean_password,
)
from domain.identity.devices import Device, DeviceNotFound
from domain.identity.users import User
from projections.identity.devices import DEVICES, DeviceProjector, DeviceQueries
from projections.identity.users import UserDirectoryProjector
from tests.builders import a_cause, now


def a_grant() -> tuple[RefreshGrant, str]:
    token = new_refresh_token(uuid.uuid4(), uuid.uuid4())
    grant = RefreshGrant.issue(token.user_id, token.device_id, token.digest,
                               now() + timedelta(days=30), a_cause())
    return grant, token.value


@pytest.mark.parametrize("password", ["short", "x" * 129, "", "lone \ud800 surrogate"])
def test_passwords_out_of_bounds_are_refused(password: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        clean_password(password)
    assert raised.value.field == "password"


def test_passwords_compare_after_unicode_normalisation() -> None:
    assert clean_password("cafe\u0301 au lait") == clean_password("caf\u00e9 au lait")


def test_credentials_confirm_only_the_current_hash() -> None:
    credentials = Credentials.establish(uuid.uuid4(), "$argon2id$current", a_cause())
    credentials.confirm("$argon2id$current")
    with pytest.raises(InvalidCredentials):
        credentials.confirm("$argon2id$stale")


def test_a_rotated_refresh_token_stops_working() -> None:
    grant, first = a_grant()
    second = new_refresh_token(grant.user_id, grant.device_id)
    grant.rotate(token_digest(first), second.digest, now(), now() + timedelta(days=30),
                 a_cause())
    with pytest.raises(InvalidRefreshToken):
        grant.rotate(token_digest(first), token_digest("third"), now(), now(), a_cause())
    assert grant.token_digest == second.digest


def test_an_expired_or_withdrawn_refresh_token_is_refused() -> None:
    grant, token = a_grant()
    with pytest.raises(InvalidRefreshToken):
        grant.rotate(token_digest(token), "next", now() + timedelta(days=31), now(), a_cause())
    grant.withdraw(a_cause())
    grant.withdraw(a_cause())
    with pytest.raises(InvalidRefreshToken):
        grant.rotate(token_digest(token), "next", now(), now(), a_cause())
    assert len([e for e in grant.collect_events() if isinstance(e, RefreshGrant.Withdrawn)]) == 1


@given(st.text(max_size=120))
def test_any_presented_string_either_parses_or_is_an_invalid_token(value: str) -> None:
    try:
        token = read_refresh_token(value)
    except InvalidRefreshToken:
        return
    assert token.digest == token_digest(value)


def test_a_refresh_token_names_its_user_and_device_and_round_trips() -> None:
    user_id, device_id = uuid.uuid4(), uuid.uuid4()
    token = new_refresh_token(user_id, device_id)
    assert read_refresh_token(token.value) == token
    assert token.value not in repr(token) and token.digest not in repr(token)


def test_only_the_owner_revokes_a_device_and_only_once() -> None:
    ada = uuid.uuid4()
    device = Device.sign_in(uuid.uuid4(), ada, "  Ada's   phone ", now(), a_cause(ada))
    assert device.name == "Ada's phone"
    with pytest.raises(DeviceNotFound):
        device.revoke(uuid.uuid4(), now(), a_cause())
    device.revoke(ada, now(), a_cause(ada))
    assert not device.is_in_force_for(ada)
    with pytest.raises(DeviceNotFound):
        device.revoke(ada, now(), a_cause(ada))


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "bell\x07"])
def test_device_names_are_short_and_printable(name: str) -> None:
    with pytest.raises(InvalidCommand):
        Device.sign_in(uuid.uuid4(), uuid.uuid4(), name, now(), a_cause())


def test_the_devices_read_model_follows_sign_in_refresh_and_revocation() -> None:
    ada = uuid.uuid4()
    device = Device.sign_in(uuid.uuid4(), ada, "phone", now(), a_cause(ada))
    device.record_refresh(now(), a_cause(ada))
    device.revoke(ada, now(), a_cause(ada))
    signed_in, refreshed, revoked = [
        change for i, event in enumerate(device.collect_events(), start=1)
        for change in DeviceProjector().changes(event, i)
    ]
    assert (signed_in.collection, signed_in.doc_id) == (DEVICES, str(device.id))
    assert signed_in.fields["state"] == "active" and signed_in.fields["user_id"] == str(ada)
    assert set(refreshed.fields) == {"last_active_at"}
    assert revoked.fields["state"] == "revoked"


def test_a_profile_change_records_only_what_changed() -> None:
    user = User.register("ada", "Ada", a_cause())
    assert not user.change_profile("Ada", None, a_cause())
    assert user.change_profile("Ada  King", "blobs/ada", a_cause())
    assert (user.name, user.avatar) == ("Ada King", "blobs/ada")
    _, changed = user.collect_events()
    [upsert] = UserDirectoryProjector().changes(changed, 2)
    assert upsert.fields == {"name": "Ada King", "text": "Ada King", "avatar": "blobs/ada"}


@pytest.mark.parametrize("avatar", ["", "x" * 257, "with space", "bell\x07"])
def test_avatar_references_are_short_opaque_tokens(avatar: str) -> None:
    user = User.register("ada", "Ada", a_cause())
    with pytest.raises(InvalidCommand) as raised:
        user.change_profile("Ada", avatar, a_cause())
    assert raised.value.field == "avatar"


class ChangingStore:
    """A read store whose device is revoked by the projector right after the first read."""

    def __init__(self) -> None:
        self.reads = 0

    def get(self, collection: str, doc_id: str) -> dict[str, str]:
        self.reads += 1
        state = "active" if self.reads == 1 else "revoked"
        return {"device_id": doc_id, "user_id": "ada", "state": state}


def test_a_device_revoked_while_being_cached_is_not_left_cached_as_active() -> None:
    cache = MemoryCache(ttl_seconds=60)
    devices = DeviceQueries(ChangingStore(), cache)  # type: ignore[arg-type]
    assert devices.in_force("d1", "ada") is False
    assert cache.get("devices:d1") is None
    assert devices.in_force("d1", "ada") is False
