"""How identity's command results are answered over HTTP: one status and body per result."""

from __future__ import annotations

from api.http.answers import Answer, Answers
from commands.identity.accounts import (
    DeviceSignedOut,
    ReusedRefreshTokenRevoked,
    SessionRefreshed,
    SessionStarted,
)
from commands.identity.contacts import (
    BlockLifted,
    BlockRecorded,
    ContactUpdated,
    FriendshipRequested,
)
from commands.identity.users import PresenceVisibilityUpdated, ProfileUpdated, UserRegistered


def _registered(result: UserRegistered) -> Answer:
    body: dict[str, object] = {"user_id": str(result.user_id), "handle": result.handle,
                               "name": result.name}
    if result.device_id is not None:
        body["device_id"] = str(result.device_id)
    return Answer(201, body)


def _profile(result: ProfileUpdated) -> Answer:
    return Answer(200, {"user_id": str(result.user_id), "handle": result.handle,
                        "name": result.name, "avatar": result.avatar})


def _presence(result: PresenceVisibilityUpdated) -> Answer:
    return Answer(200, {"presence": result.visible_to})


def _signed_in(result: SessionStarted) -> Answer:
    return Answer(201, {"user_id": str(result.user_id), "device_id": str(result.device_id),
                        "retired_device_ids": [str(d) for d in result.retired_device_ids]})


def _refreshed(result: SessionRefreshed) -> Answer:
    return Answer(200, {"user_id": str(result.user_id), "device_id": str(result.device_id)})


def _reuse_revoked(result: ReusedRefreshTokenRevoked) -> Answer:
    return Answer(401, {"user_id": str(result.user_id), "device_id": str(result.device_id),
                        "revoked": True})


def _signed_out(result: DeviceSignedOut) -> Answer:
    return Answer(200, {"device_id": str(result.device_id), "revoked": True})


def _requested(result: FriendshipRequested) -> Answer:
    return Answer(201 if result.new else 200,
                  {"user_id": str(result.user_id), "state": result.state})


def _contact(result: ContactUpdated) -> Answer:
    return Answer(200, {"user_id": str(result.user_id), "state": result.state})


def _blocked(result: BlockRecorded) -> Answer:
    return Answer(201 if result.new else 200, {"user_id": str(result.user_id), "blocked": True})


def _unblocked(result: BlockLifted) -> Answer:
    return Answer(200, {"user_id": str(result.user_id), "blocked": False})


IDENTITY_ANSWERS = Answers({
    UserRegistered: _registered,
    ProfileUpdated: _profile,
    PresenceVisibilityUpdated: _presence,
    SessionStarted: _signed_in,
    SessionRefreshed: _refreshed,
    ReusedRefreshTokenRevoked: _reuse_revoked,
    DeviceSignedOut: _signed_out,
    FriendshipRequested: _requested,
    ContactUpdated: _contact,
    BlockRecorded: _blocked,
    BlockLifted: _unblocked,
})
reply = IDENTITY_ANSWERS.reply
