"""Read models fed by the real projectors from domain events, in an embedded read store."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from adapters.read_model.memory_cache import MemoryCache
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from domain.identity.contacts import Blocklist, Contact
from domain.identity.users import User
from domain.messaging.conversations import Conversation
from projections.identity.contacts import ContactQueries, ContactsProjector
from projections.identity.presence import PresenceAudience
from projections.identity.users import UserDirectoryProjector, UserDirectoryQueries
from projections.messaging.cache_invalidation import hot_path_keys
from projections.messaging.conversations import MessagingProjector
from projections.messaging.feed import FeedProjector, FeedQueries
from projections.messaging.memberships import Memberships
from projections.messaging.queries import MessagingQueries
from projections.read_model.events import PositionedEvent
from projections.read_model.hot_paths import StampedCache
from projections.read_model.runner import ProjectionWriter
from tests.builders import a_cause, now


class ProjectedWorld:
    """People, conversations and blocks, recorded as events and projected in log order."""

    def __init__(self, directory: Path) -> None:
        self.store = SQLiteReadStore(directory / "read_models.sqlite3")
        self.cache = MemoryCache(ttl_seconds=600)
        self.writer = ProjectionWriter(self.store, self.cache, hot_paths=hot_path_keys)
        self.projectors = [UserDirectoryProjector(), ContactsProjector(), MessagingProjector(),
                           FeedProjector()]
        self.position = 0
        self.stamped = StampedCache(self.cache, self.store)
        self.memberships = Memberships(self.store, self.stamped)
        self.contacts = ContactQueries(self.store, self.stamped)
        self.users = UserDirectoryQueries(self.store)
        self.messaging = MessagingQueries(self.store, self.memberships, self.contacts,
                                          self.stamped)
        self.feed = FeedQueries(self.store, self.memberships, self.contacts)
        self.presence = PresenceAudience(self.users, self.memberships, self.contacts)
        self._blocklists: dict[uuid.UUID, Blocklist] = {}
        self.log: list[PositionedEvent] = []  # everything recorded, as a log reader sees it

    def record(self, *aggregates: Any) -> int:
        """Project every pending event of the aggregates; returns the last log position."""
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                self.position += 1
                self.log.append(PositionedEvent(self.position, event))
                for projector in self.projectors:
                    self.writer.project(projector, [PositionedEvent(self.position, event)],
                                        self.position)
        return self.position

    def person(self, handle: str) -> User:
        user = User.register(f"{handle}_{uuid.uuid4().hex[:8]}", handle.title(), a_cause())
        self.record(user)
        return user

    def group(self, owner: User, *members: User) -> Conversation:
        group = Conversation.create_group(uuid.uuid4(), owner.id, "Club",
                                          tuple(m.id for m in members), 250, a_cause(owner.id))
        self.record(group)
        return group

    def send(self, group: Conversation, sender: User, text: str) -> uuid.UUID:
        message_id = uuid.uuid4()
        group.send_message(message_id, sender.id, text, now(), a_cause(sender.id))
        self.record(group)
        return message_id

    def befriend(self, first: User, second: User) -> None:
        contact = Contact.start(first.id, second.id, a_cause(first.id))
        contact.request_friendship(first.id, now(), a_cause(first.id))
        contact.accept(second.id, now(), a_cause(second.id))
        self.record(contact)

    def block(self, blocker: User, blocked: User) -> int:
        blocklist = self._blocklists.setdefault(
            blocker.id, Blocklist.start(blocker.id, a_cause(blocker.id)))
        blocklist.block(blocked.id, now(), a_cause(blocker.id))
        return self.record(blocklist)

    def unblock(self, blocker: User, blocked: User) -> int:
        blocklist = self._blocklists[blocker.id]
        blocklist.unblock(blocked.id, now(), a_cause(blocker.id))
        return self.record(blocklist)

    def show_presence_to(self, user: User, audience: str) -> None:
        user.show_presence_to(audience, a_cause(user.id))
        self.record(user)

    def close(self) -> None:
        self.store.close()
