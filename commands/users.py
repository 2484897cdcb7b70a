"""Commands about users."""

from __future__ import annotations

from dataclasses import dataclass

from commands.batch import Batch
from commands.outcomes import Outcome
from domain.errors import HandleTaken
from domain.events import Cause
from domain.users import User


@dataclass(frozen=True)
class RegisterUser:
    handle: str
    name: str


def register_user(batch: Batch, command: RegisterUser, cause: Cause) -> Outcome:
    user = User.register(command.handle, command.name, cause)
    if batch.find(User, user.id) is not None:
        raise HandleTaken("handle", "this handle is taken")
    batch.add(user)
    return Outcome(201, {"user_id": str(user.id), "handle": user.handle, "name": user.name})
