"""Message digests meet read receipts end to end on the embedded default in process, through
HTTP and the FCM stand-in: with PARLEY_MESSAGE_DIGEST_WINDOW_SECONDS, Ada's messages to an
offline Bob collect in his digest of the conversation; Bob reads some of them on another
device before the window ends, and the push the durable timer sends announces only the unread
ones; having read them all, nothing is pushed and the digest is cancelled, the receipt its
cause."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.notifications.reactions import MESSAGE, MESSAGES, caller_of
from commands.notifications.suppression import READ_RECEIPT
from domain.notifications.digests import CANCELLED, Digest, DigestSlot, digest_slot_id
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.notifications.deployments import PUBLIC_URL, provider_entries
from tests.e2e.notifications.test_cross_domain_suppression import Messenger, receipt_event_id
from tests.e2e.notifications.test_parley_notifications import eventually
from tests.providers.fcm import FcmStandIn
from tests.providers.smtp import SmtpRelay

WINDOW_SECONDS = 4  # long enough for the receipt to be handled first, short for CI


@pytest.fixture(scope="module")
def messenger(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn,
              relay: SmtpRelay) -> Iterator[Messenger]:
    settings = Settings(database_url=None, data_dir=tmp_path_factory.mktemp("dgr") / "data",
                        notification_providers=json.dumps(provider_entries(fcm, relay)),
                        public_url=PUBLIC_URL, notification_timer_every_seconds=0.05,
                        message_digest_window_seconds=WINDOW_SECONDS)
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        yield Messenger(parley, http, ParleyClient(http), fcm, relay)


def open_digest(messenger: Messenger, conversation: str, reader: Person) -> Digest | None:
    repository = messenger.parley.event_log.repository
    slot_id = digest_slot_id(caller_of(MESSAGES), uuid.UUID(reader.user_id), MESSAGE,
                             conversation)
    if not list(repository.event_store.get(slot_id)):
        return None
    slot = repository.get(slot_id)
    assert isinstance(slot, DigestSlot)
    digest = repository.get(slot.current)
    assert isinstance(digest, Digest)
    return digest


def collected(messenger: Messenger, conversation: str, reader: Person, count: int) -> Digest:
    def full() -> Digest | None:
        digest = open_digest(messenger, conversation, reader)
        return digest if digest is not None and digest.count == count else None
    found = eventually(full)
    assert isinstance(found, Digest)
    return found


def pushes_about(messenger: Messenger, phone: str, conversation: str) -> list[object]:
    return [s for s in messenger.fcm.shown(phone)
            if s.data.get("digest_id") and s.data.get("count")
            and s.data.get("conversation_id", conversation) == conversation]


def test_the_digest_push_announces_only_the_messages_not_read_by_its_flush(
        messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, phone, _ = messenger.someone_offline("Bob")
    conversation = GroupClient(messenger.client).create(ada, "Book club", bob)
    sent = [messenger.client.sent(ada, conversation, text)
            for text in ("chapter 3 tonight?", "bring snacks", "and the wine")]
    digest = collected(messenger, conversation, bob, 3)
    opened = time.monotonic()

    messenger.read(messenger.on_another_device(bob), conversation, sent[1]["seq"])

    withdrawn = eventually(lambda: [e for e in messenger.events(digest.id)
                                    if isinstance(e, Digest.MembersWithdrawn)])
    assert time.monotonic() - opened < WINDOW_SECONDS, "the receipt came after the flush"
    [event] = withdrawn
    assert event.reason == READ_RECEIPT and len(event.notification_ids) == 2
    assert event.causation_id == receipt_event_id(messenger, conversation, bob)
    [push] = eventually(lambda: pushes_about(messenger, phone, conversation),
                        timeout=WINDOW_SECONDS + 15)
    assert push.title == "1 new messages in Book club"
    assert push.body == "Ada: and the wine"


def test_having_read_every_message_nothing_is_pushed_and_the_digest_is_cancelled(
        messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, phone, _ = messenger.someone_offline("Bob")
    conversation = GroupClient(messenger.client).create(ada, "Book club", bob)
    sent = [messenger.client.sent(ada, conversation, text)
            for text in ("chapter 3 tonight?", "bring snacks")]
    digest = collected(messenger, conversation, bob, 2)

    messenger.read(messenger.on_another_device(bob), conversation, sent[-1]["seq"])

    def cancelled() -> Digest | None:
        found = open_digest(messenger, conversation, bob)
        return found if found is not None and found.state == CANCELLED else None
    assert eventually(cancelled).count == 0
    [event] = [e for e in messenger.events(digest.id) if isinstance(e, Digest.Cancelled)]
    assert event.causation_id == receipt_event_id(messenger, conversation, bob)
    time.sleep(max(0.0, (digest.flush_at.timestamp() + 1.5) - time.time()))  # past its flush
    assert pushes_about(messenger, phone, conversation) == []
    assert messenger.parley.event_log.repository.get(digest.id).state == CANCELLED
