"""Contacts (friend requests and friends) and blocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import Commands, ConsistencyPosition, Gate, UserId, wait_for
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.identity.answers import reply
from api.identity.dependencies import Contacts, UserDirectory
from commands.identity.contacts import (
    AnswerFriendRequest,
    BlockUser,
    CancelFriendRequest,
    RequestFriendship,
    UnblockUser,
    Unfriend,
)
from projections.identity.contacts import FRIEND, INCOMING, OUTGOING
from projections.identity.users import UserDirectoryQueries

contacts = APIRouter(prefix="/v1/contacts", tags=["contacts"])
blocks = APIRouter(prefix="/v1/blocks", tags=["blocks"])
CONTACTS = ["contacts"]
ANSWER_PROBLEMS = (401, 409, 422, 503)


class SomeoneRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef"}]})

    user_id: uuid.UUID = Field(examples=["a43240e6-dc52-5a92-a031-6851e4c908ef"])


class ContactChanged(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "state": "outgoing",
         "position": 311}]})

    user_id: uuid.UUID
    state: str = Field(description="How it looks to the caller: friend, incoming, outgoing, none")
    position: int


class BlockChanged(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "f989ebef-2c69-500b-9a30-b69671e7fe5e", "blocked": True, "position": 512}]})

    user_id: uuid.UUID
    blocked: bool
    position: int


class Person(BaseModel):
    user_id: uuid.UUID
    handle: str | None = None
    name: str | None = None
    avatar: str | None = None
    since: datetime


class ContactList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "friends": [{"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "handle": "bob",
                     "name": "Bob", "avatar": None, "since": "2026-11-24T18:02:11Z"}],
        "incoming": [{"user_id": "f989ebef-2c69-500b-9a30-b69671e7fe5e", "handle": "cyrus",
                      "name": "Cyrus", "avatar": "blobs/7f3a9c",
                      "since": "2026-11-26T07:45:00Z"}],
        "outgoing": []}]})

    friends: list[Person]
    incoming: list[Person] = Field(description="Friend requests the caller may accept")
    outgoing: list[Person] = Field(description="The caller's requests still pending")


class BlockList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"blocked": [
        {"user_id": "f989ebef-2c69-500b-9a30-b69671e7fe5e", "handle": "cyrus", "name": "Cyrus",
         "avatar": None, "since": "2026-11-26T08:15:30Z"}]}]})

    blocked: list[Person]


def _people(users: UserDirectoryQueries, documents: list[dict[str, Any]]) -> list[Person]:
    profiles = users.users([d["user_id"] for d in documents])
    return [Person(**(profiles.get(d["user_id"], {}) | {"user_id": d["user_id"],
                                                        "since": d["since"]}))
            for d in documents]


@contacts.get("", response_model=ContactList, summary="List friends and friend requests",
              responses=problem_responses(*QUERY_PROBLEMS))
def list_contacts(caller: UserId, gate: Gate, queries: Contacts, users: UserDirectory,
                  position: ConsistencyPosition = None) -> ContactList:
    """Friends, incoming and outgoing friend requests, newest first (at most 1000 of each)."""
    wait_for(gate, position, CONTACTS)
    mine = {state: _people(users, queries.contacts(str(caller), state))
            for state in (FRIEND, INCOMING, OUTGOING)}
    return ContactList(friends=mine[FRIEND], incoming=mine[INCOMING], outgoing=mine[OUTGOING])


@contacts.post("/requests", status_code=201, response_model=ContactChanged,
               summary="Ask someone to be friends",
               responses=problem_responses(*COMMAND_PROBLEMS, described={
                   403: "one of you blocked the other", 404: "no such user",
                   409: "already friends, or the Idempotency-Key was used for a different "
                        "request"})
               | {200: {"model": ContactChanged,
                        "description": "already pending, or it accepted their request"}})
async def request_friendship(body: SomeoneRequest, commands: Commands) -> ContactChanged:
    """Ask someone to be friends. Asking someone who already asked you accepts their request."""
    outcome = await commands.run(
        RequestFriendship(commands.caller, body.user_id, datetime.now(UTC)), body)
    return reply(commands.response, outcome, ContactChanged)


@contacts.post("/requests/{user_id}/accept", response_model=ContactChanged,
               summary="Accept a friend request", responses=problem_responses(
                   *ANSWER_PROBLEMS, described={404: "no pending request from this user"}))
async def accept(user_id: uuid.UUID, commands: Commands) -> ContactChanged:
    """Accept the friend request `user_id` sent the caller."""
    outcome = await commands.run(
        AnswerFriendRequest(commands.caller, user_id, True, datetime.now(UTC)))
    return reply(commands.response, outcome, ContactChanged)


@contacts.post("/requests/{user_id}/decline", response_model=ContactChanged,
               summary="Decline a friend request", responses=problem_responses(
                   *ANSWER_PROBLEMS, described={404: "no pending request from this user"}))
async def decline(user_id: uuid.UUID, commands: Commands) -> ContactChanged:
    """Decline the friend request `user_id` sent the caller."""
    outcome = await commands.run(
        AnswerFriendRequest(commands.caller, user_id, False, datetime.now(UTC)))
    return reply(commands.response, outcome, ContactChanged)


@contacts.delete("/requests/{user_id}", response_model=ContactChanged,
                 summary="Withdraw a friend request", responses=problem_responses(
                     *ANSWER_PROBLEMS, described={404: "no pending request to this user"}))
async def cancel(user_id: uuid.UUID, commands: Commands) -> ContactChanged:
    """Withdraw the caller's pending friend request to `user_id`."""
    outcome = await commands.run(CancelFriendRequest(commands.caller, user_id, datetime.now(UTC)))
    return reply(commands.response, outcome, ContactChanged)


@contacts.delete("/{user_id}", response_model=ContactChanged, summary="Unfriend",
                 responses=problem_responses(*ANSWER_PROBLEMS, described={404: "not friends"}))
async def unfriend(user_id: uuid.UUID, commands: Commands) -> ContactChanged:
    """End a friendship."""
    outcome = await commands.run(Unfriend(commands.caller, user_id, datetime.now(UTC)))
    return reply(commands.response, outcome, ContactChanged)


@blocks.get("", response_model=BlockList, summary="List whom the caller blocked",
            responses=problem_responses(*QUERY_PROBLEMS))
def list_blocks(caller: UserId, gate: Gate, contacts: Contacts, users: UserDirectory,
                position: ConsistencyPosition = None) -> BlockList:
    """Whom the caller has blocked, most recent first (at most 1000)."""
    wait_for(gate, position, CONTACTS)
    return BlockList(blocked=_people(users, contacts.blocked(str(caller))))


@blocks.post("", status_code=201, response_model=BlockChanged, summary="Block someone",
             responses=problem_responses(*COMMAND_PROBLEMS, described={404: "no such user"})
             | {200: {"model": BlockChanged, "description": "already blocked"}})
async def block(body: SomeoneRequest, commands: Commands) -> BlockChanged:
    """Block someone: neither can then reach the other; a friendship or request between you
    ends."""
    outcome = await commands.run(BlockUser(commands.caller, body.user_id, datetime.now(UTC)),
                                 body)
    return reply(commands.response, outcome, BlockChanged)


@blocks.delete("/{user_id}", response_model=BlockChanged, summary="Unblock someone",
               responses=problem_responses(*ANSWER_PROBLEMS, described={
                   404: "this user is not blocked"}))
async def unblock(user_id: uuid.UUID, commands: Commands) -> BlockChanged:
    """Unblock someone (friendship does not come back)."""
    outcome = await commands.run(UnblockUser(commands.caller, user_id, datetime.now(UTC)))
    return reply(commands.response, outcome, BlockChanged)
