"""Conversations and the messages sent in them, with their total order."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from domain.errors import InvalidCommand, NotAllowed
from domain.identity.errors import UserNotFound
from domain.identity.users import user_id_for_handle
from domain.messaging.errors import CannotTalkToSelf, GroupFull, MessageTooLong, NotAMember
from domain.text import DisplayName, clean_message_characters, clean_reference
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied

DIRECT_CONVERSATION_NAMESPACE = UUID("4a3f9a7e-1c55-4b0e-b1d2-3e7c2f1a9d60")
MAX_MESSAGE_BYTES = 4096  # the text limit, in bytes of UTF-8: see `domain.text`
MAX_TITLE_LENGTH = 100
TITLE = DisplayName("title", "title", MAX_TITLE_LENGTH)
MAX_PHOTO_REF_LENGTH = 256
DIRECT, GROUP = "direct", "group"
OWNER, ADMIN, MEMBER = "owner", "admin", "member"


def direct_conversation_id(first: UUID, second: UUID, key: bytes) -> UUID:
    """The same pair of people always shares the same direct conversation.

    The id is keyed (HMAC-SHA256 with a server secret), so nobody can compute the id of
    another pair's conversation from their handles (ADR 0009).
    """
    if not key:
        raise ValueError("a direct conversation id needs a server key")
    low, high = sorted((first, second))
    digest = hmac.new(key, f"direct:{low}:{high}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def legacy_direct_conversation_id(first: UUID, second: UUID) -> UUID:
    """The unkeyed id that direct conversations opened before ADR 0009 have (still served)."""
    low, high = sorted((first, second))
    return uuid5(DIRECT_CONVERSATION_NAMESPACE, f"{low}:{high}")


def clean_message_text(text: str, *, may_be_empty: bool = False) -> str:
    """Text is 1 to `MAX_MESSAGE_BYTES` bytes of UTF-8, NFC-normalised, held to the text
    policy (`domain.text`, which also says what the request schema states of its length).

    A message that carries attachments may have no text.
    """
    normalised = clean_message_characters(text)
    if not normalised.strip() and not may_be_empty:
        raise InvalidCommand("text", "a message needs some text")
    if len(normalised.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise MessageTooLong("text", f"a message is at most {MAX_MESSAGE_BYTES} bytes of UTF-8")
    return normalised


MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{3,32})\b")


def mentioned_handles(text: str) -> list[str]:
    """The handles written as `@handle` in a text, in order, without repeats."""
    return list(dict.fromkeys(m.lower() for m in MENTION.findall(text)))


class Conversation(ParleyAggregate):
    """A place where members exchange messages, each numbered in one total order.

    Direct conversations have exactly two members and never change membership; groups have an
    owner, admins and members, a title and a photo. A member added later sees (and acts on)
    only the messages sent after they joined: `joined_seq` holds the last sequence number
    before each late joiner joined (absent: from the start).

    Version 2 added `joined_seq`; a version-1 snapshot did not record it, so its members count
    as members from the start.
    """

    class_version = 2
    snapshot_every = SNAPSHOT_EVERY  # it grows with every message

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["joined_seq"] = {}

    def __init__(
        self, kind: str, member_ids: tuple[UUID, ...], title: str = "",
        owner_id: UUID | None = None,
    ) -> None:
        self.kind = kind
        self.member_ids = tuple(member_ids)
        self.title = title
        self.photo_ref = ""
        self.owner_id = owner_id
        self.admin_ids: tuple[UUID, ...] = ()
        self.last_seq = 0
        self.joined_seq: dict[str, int] = {}

    class Opened(ParleyAggregate.Created):
        kind: str
        member_ids: tuple[UUID, ...]

    class GroupCreated(ParleyAggregate.Created):
        kind: str
        member_ids: tuple[UUID, ...]
        title: str
        owner_id: UUID

    class MessageSent(ParleyAggregate.Event):
        """Version 2 added replies, forwards, mentions and attachments."""

        class_version = 2
        message_id: UUID
        sender_id: UUID
        seq: int
        text: str
        sent_at: datetime
        reply_to: UUID | None
        forwarded_from: UUID | None
        mention_ids: tuple[UUID, ...]
        attachments: tuple[dict[str, Any], ...]
        copies = copied(last_seq="seq")

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(reply_to=None, forwarded_from=None, mention_ids=(), attachments=())

    class Renamed(ParleyAggregate.Event):
        title: str
        copies = copied("title")

    class PhotoChanged(ParleyAggregate.Event):
        photo_ref: str
        copies = copied("photo_ref")

    class MembersAdded(ParleyAggregate.Event):
        user_ids: tuple[UUID, ...]
        at_seq: int

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Conversation)
            aggregate.member_ids = aggregate.member_ids + tuple(self.user_ids)
            aggregate.joined_seq.update({str(u): self.at_seq for u in self.user_ids})

    class MemberRemoved(ParleyAggregate.Event):
        user_id: UUID
        at_seq: int
        left_by_choice: bool

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Conversation)
            aggregate.member_ids = tuple(m for m in aggregate.member_ids if m != self.user_id)
            aggregate.admin_ids = tuple(a for a in aggregate.admin_ids if a != self.user_id)
            aggregate.joined_seq.pop(str(self.user_id), None)

    class RoleChanged(ParleyAggregate.Event):
        user_id: UUID
        role: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Conversation)
            others = tuple(a for a in aggregate.admin_ids if a != self.user_id)
            aggregate.admin_ids = others + ((self.user_id,) if self.role == ADMIN else ())

    class OwnershipTransferred(ParleyAggregate.Event):
        previous_owner_id: UUID
        new_owner_id: UUID

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Conversation)
            aggregate.owner_id = self.new_owner_id
            admins = tuple(a for a in aggregate.admin_ids if a != self.new_owner_id)
            aggregate.admin_ids = (*admins, self.previous_owner_id)

    class MemberSettingsChanged(ParleyAggregate.Event):
        user_id: UUID
        muted_until: datetime | None
        archived: bool
        pinned: bool

    @classmethod
    def open_direct(cls, opener_id: UUID, peer_id: UUID, id_key: bytes,
                    cause: Cause) -> Conversation:
        if opener_id == peer_id:
            raise CannotTalkToSelf("peer_id", "a direct conversation needs two different people")
        return cls._create(
            cls.Opened,
            id=direct_conversation_id(opener_id, peer_id, id_key),
            kind=DIRECT,
            member_ids=tuple(sorted((opener_id, peer_id))),
            **cause.as_event_fields(),
        )

    @classmethod
    def create_group(
        cls, conversation_id: UUID, owner_id: UUID, title: str, member_ids: tuple[UUID, ...],
        member_limit: int, cause: Cause,
    ) -> Conversation:
        members = (owner_id, *dict.fromkeys(m for m in member_ids if m != owner_id))
        if len(members) > member_limit:
            raise GroupFull("member_ids", f"a group has at most {member_limit} members")
        return cls._create(
            cls.GroupCreated, id=conversation_id, kind=GROUP, member_ids=members,
            title=TITLE.clean(title), owner_id=owner_id, **cause.as_event_fields(),
        )

    def is_member(self, user_id: UUID) -> bool:
        return user_id in self.member_ids

    def shows_message(self, user_id: UUID, seq: int) -> bool:
        """Whether a current member's window holds message `seq`: the same window the read
        side serves them, so nobody acts on a message they cannot read."""
        return self.is_member(user_id) and seq > self.joined_seq.get(str(user_id), 0)

    def role_of(self, user_id: UUID) -> str:
        if not self.is_member(user_id):
            raise NotAMember("conversation_id", "no such conversation")
        if user_id == self.owner_id:
            return OWNER
        return ADMIN if user_id in self.admin_ids else MEMBER

    def _role_of_target(self, user_id: UUID) -> str:
        if not self.is_member(user_id):
            raise UserNotFound("user_id", "that user is not a member of this conversation")
        return self.role_of(user_id)

    def _require_group_manager(self, actor_id: UUID) -> None:
        if self.role_of(actor_id) == MEMBER or self.kind != GROUP:
            raise NotAllowed("conversation_id", "only the group's owner and admins may do this")

    def require_manager(self, actor_id: UUID) -> None:
        """Only the group's owner and admins add members, or invite people."""
        self._require_group_manager(actor_id)

    def admit(self, user_id: UUID, member_limit: int, cause: Cause) -> None:
        """An invited person accepted: they join, seeing what is sent from now on."""
        if self.kind != GROUP:
            raise NotAllowed("conversation_id", "only groups have invitations")
        if self.is_member(user_id):
            return
        if len(self.member_ids) + 1 > member_limit:
            raise GroupFull("conversation_id", f"a group has at most {member_limit} members")
        self.trigger_event(self.MembersAdded, user_ids=(user_id,), at_seq=self.last_seq,
                           **cause.as_event_fields())

    def send_message(
        self, message_id: UUID, sender_id: UUID, text: str, sent_at: datetime, cause: Cause,
        *, reply_to: UUID | None = None, forwarded_from: UUID | None = None,
        attachments: tuple[dict[str, Any], ...] = (),
    ) -> int:
        """Append a message; returns its sequence number in the conversation.

        `@handle` mentions resolve to members only; anyone else mentioned is just text.
        """
        if not self.is_member(sender_id):
            raise NotAMember("conversation_id", "no such conversation")
        text = clean_message_text(text, may_be_empty=bool(attachments))
        mentioned = tuple(dict.fromkeys(
            m for m in map(user_id_for_handle, mentioned_handles(text))
            if self.is_member(m) and m != sender_id))
        seq = self.last_seq + 1
        self.trigger_event(
            self.MessageSent, message_id=message_id, sender_id=sender_id, seq=seq, text=text,
            sent_at=sent_at, reply_to=reply_to, forwarded_from=forwarded_from,
            mention_ids=mentioned, attachments=tuple(attachments), **cause.as_event_fields(),
        )
        return seq

    def rename(self, actor_id: UUID, title: str, cause: Cause) -> None:
        self._require_group_manager(actor_id)
        self.trigger_event(self.Renamed, title=TITLE.clean(title), **cause.as_event_fields())

    def change_photo(self, actor_id: UUID, photo_ref: str, cause: Cause) -> None:
        self._require_group_manager(actor_id)
        if len(photo_ref) > MAX_PHOTO_REF_LENGTH:
            raise InvalidCommand("photo_ref", "a photo reference is up to 256 printable characters")
        clean_reference(photo_ref, "photo_ref", "photo reference")  # "" clears the photo
        self.trigger_event(self.PhotoChanged, photo_ref=photo_ref, **cause.as_event_fields())

    def add_members(
        self, actor_id: UUID, user_ids: tuple[UUID, ...], member_limit: int, cause: Cause
    ) -> tuple[UUID, ...]:
        """Adds those not already members; returns who was added."""
        self._require_group_manager(actor_id)
        new = tuple(dict.fromkeys(u for u in user_ids if not self.is_member(u)))
        if len(self.member_ids) + len(new) > member_limit:
            raise GroupFull("user_ids", f"a group has at most {member_limit} members")
        if new:
            self.trigger_event(self.MembersAdded, user_ids=new, at_seq=self.last_seq,
                               **cause.as_event_fields())
        return new

    def remove_member(self, actor_id: UUID, user_id: UUID, cause: Cause) -> None:
        actor_role = self.role_of(actor_id)
        self._require_group_manager(actor_id)
        target_role = self._role_of_target(user_id)
        if target_role == OWNER or (target_role == ADMIN and actor_role != OWNER):
            raise NotAllowed("user_id", "only the owner may remove an admin; nobody the owner")
        self.trigger_event(self.MemberRemoved, user_id=user_id, at_seq=self.last_seq,
                           left_by_choice=False, **cause.as_event_fields())

    def leave(self, user_id: UUID, cause: Cause) -> None:
        if self.kind != GROUP:
            raise NotAllowed("conversation_id", "nobody leaves a direct conversation")
        if self.role_of(user_id) == OWNER and len(self.member_ids) > 1:
            raise NotAllowed("conversation_id", "transfer ownership before leaving the group")
        self.trigger_event(self.MemberRemoved, user_id=user_id, at_seq=self.last_seq,
                           left_by_choice=True, **cause.as_event_fields())

    def set_role(self, actor_id: UUID, user_id: UUID, role: str, cause: Cause) -> None:
        if self.kind != GROUP or self.role_of(actor_id) != OWNER:
            raise NotAllowed("conversation_id", "only the owner changes roles")
        if role not in (ADMIN, MEMBER):
            raise InvalidCommand("role", "a role is 'admin' or 'member'")
        if self._role_of_target(user_id) == OWNER:
            raise NotAllowed("user_id", "the owner's role changes only by transfer")
        if self.role_of(user_id) != role:
            self.trigger_event(self.RoleChanged, user_id=user_id, role=role,
                               **cause.as_event_fields())

    def transfer_ownership(self, actor_id: UUID, new_owner_id: UUID, cause: Cause) -> None:
        if self.kind != GROUP or self.role_of(actor_id) != OWNER:
            raise NotAllowed("conversation_id", "only the owner transfers ownership")
        if self._role_of_target(new_owner_id) == OWNER:
            return
        self.trigger_event(self.OwnershipTransferred, previous_owner_id=actor_id,
                           new_owner_id=new_owner_id, **cause.as_event_fields())

    def change_member_settings(
        self, user_id: UUID, muted_until: datetime | None, archived: bool, pinned: bool,
        cause: Cause,
    ) -> None:
        self.role_of(user_id)
        self.trigger_event(self.MemberSettingsChanged, user_id=user_id, muted_until=muted_until,
                           archived=archived, pinned=pinned, **cause.as_event_fields())
