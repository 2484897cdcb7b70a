"""How identity's command results are answered over HTTP: one status and body per result.

Signing in and refreshing answer with the tokens the route made (never stored, so never in a
result), at the status their routes declare; a refresh that caught a reused token is refused.
"""

from __future__ import annotations

from api.http.answers import Answer, Answers
from commands.identity.accounts import DeviceSignedOut
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
    DeviceSignedOut: _signed_out,
    FriendshipRequested: _requested,
    ContactUpdated: _contact,
    BlockRecorded: _blocked,
    BlockLifted: _unblocked,
})
reply = IDENTITY_ANSWERS.reply
