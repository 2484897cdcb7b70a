"""What a trigger reads to route its notifications: a recipient's contact points only when a
channel it asks for needs an address a configured provider reaches; routing is the same
either way (an in-app-only trigger of 1,000 recipients reads 1,000 users and nothing else)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from commands.identity.users import RegisterUser, register_user
from commands.notifications.contact_points import (
    CONTACT_POINT_HANDLERS,
    AddPhone,
    ContactPointRules,
    RegisterDeviceToken,
    add_phone,
)
from commands.notifications.sms_consent import GrantSmsConsent, grant_sms_consent
from commands.notifications.templates import CreateTemplate, create_template
from commands.notifications.trigger import TriggerNotifications, trigger_notifications
from domain.notifications.contact_points import ContactPoints
from domain.notifications.content import Content
from domain.notifications.dedup import (
    DedupKey,
    DedupKeyHolders,
    dedup_holders_id,
    dedup_key_id,
)
from domain.notifications.digests import DigestAsk, digest_slot_id
from domain.notifications.notifications import Notification
from domain.notifications.rendering import TemplateParts
from domain.notifications.sms_consent import sms_consent_id
from domain.notifications.templates import NotificationTemplate
from event_log.aggregate import Cause
from event_log.batch import Batch

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())


class ReadsCountedBatch:
    """A batch in memory that remembers what kind of aggregate each find asked for."""

    def __init__(self) -> None:
        self.aggregates: dict[uuid.UUID, Any] = {}
        self.asked: list[type] = []

    def find(self, kind: type, aggregate_id: uuid.UUID) -> Any:
        self.asked.append(kind)
        found = self.aggregates.get(aggregate_id)
        return found if isinstance(found, kind) else None

    def find_all(self, kind: type, aggregate_ids: Any) -> dict[uuid.UUID, Any]:
        """Batch.find_all: many of one kind in one read (counted as one)."""
        self.asked.append(kind)
        found = {i: self.aggregates.get(i) for i in aggregate_ids}
        return {i: a for i, a in found.items() if isinstance(a, kind)}

    def add(self, aggregate: Any) -> None:
        self.aggregates[aggregate.id] = aggregate


def someone_with_a_phone(batch: ReadsCountedBatch) -> uuid.UUID:
    user: uuid.UUID = register_user(batch, RegisterUser(f"u{uuid.uuid4().hex[:12]}", "Ada"),
                                    CAUSE).user_id
    CONTACT_POINT_HANDLERS[RegisterDeviceToken](batch, RegisterDeviceToken(
        user, uuid.uuid4(), uuid.uuid4(), "fcm", f"fcm:{uuid.uuid4().hex}", NOW,
        ContactPointRules(20)), CAUSE)
    return user


def trigger(batch: ReadsCountedBatch, recipients: list[uuid.UUID], channels: tuple[str, ...],
            provided: frozenset[str]) -> list[Notification]:
    batch.asked.clear()
    answer = trigger_notifications(batch, TriggerNotifications(  # type: ignore[arg-type]
        uuid.uuid4(), "apikey:test", tuple(recipients), "system", "normal", channels,
        Content("Title", "Body"), NOW, provided_kinds=provided), CAUSE)
    return [batch.aggregates[nid] for nid in answer.notification_ids]


def test_an_in_app_only_trigger_reads_no_contact_points():
    batch = ReadsCountedBatch()
    people = [someone_with_a_phone(batch) for _ in range(3)]
    made = trigger(batch, people, ("in_app",), frozenset({"in_app", "fcm"}))
    assert ContactPoints not in batch.asked
    assert all(n.inbox and n.channels == [] for n in made)


def test_a_channel_no_provider_reaches_needs_no_contact_points_and_is_skipped_as_before():
    batch = ReadsCountedBatch()
    person = someone_with_a_phone(batch)
    [made] = trigger(batch, [person], ("push", "in_app"), frozenset({"in_app"}))
    assert ContactPoints not in batch.asked
    assert made.channels == [] and made.inbox


def test_a_push_trigger_reads_each_recipients_contact_points_once_and_routes_to_push():
    batch = ReadsCountedBatch()
    person, stranger = someone_with_a_phone(batch), someone_with_a_phone(batch)
    batch.aggregates.pop(next(a.id for a in batch.aggregates.values()
                              if isinstance(a, ContactPoints) and a.user_id == stranger))
    reached, unreached = trigger(batch, [person, stranger], ("push", "in_app"),
                                 frozenset({"in_app", "fcm"}))
    assert batch.asked.count(ContactPoints) == 2
    assert reached.channels == ["push"] and reached.state == "queued"
    assert unreached.channels == [] and unreached.inbox  # no address: the inbox only



class CountedCache:
    """The writer's cache as Batch uses it (take, take_all), over a dict: counts the reads
    of aggregates it holds and of those the log has not (each a query in the writer)."""

    def __init__(self, aggregates: dict[uuid.UUID, Any]) -> None:
        self.aggregates = aggregates
        self.one_at_a_time: list[uuid.UUID] = []
        self.together: list[list[uuid.UUID]] = []

    def take(self, aggregate_id: uuid.UUID) -> Any:
        self.one_at_a_time.append(aggregate_id)
        if aggregate_id not in self.aggregates:
            raise AggregateNotFoundError(aggregate_id)
        return self.aggregates[aggregate_id]

    def take_all(self, aggregate_ids: Any) -> dict[uuid.UUID, Any]:
        self.together.append(list(aggregate_ids))
        return {i: self.aggregates[i] for i in aggregate_ids if i in self.aggregates}


def test_a_keyed_trigger_reads_one_aggregate_for_all_its_recipients_and_claims_in_one_event():
    seeded = ReadsCountedBatch()
    people = [someone_with_a_phone(seeded) for _ in range(3)]
    cache = CountedCache(seeded.aggregates)
    batch = Batch(None, cache)  # type: ignore[arg-type]

    def keyed() -> tuple[str, ...]:
        return trigger_notifications(batch, TriggerNotifications(
            uuid.uuid4(), "apikey:test", tuple(people), "system", "normal", ("in_app",),
            Content("Title", "Body"), NOW, dedup_key="order-1"), CAUSE).states

    assert set(keyed()) == {"delivered"}
    holders = batch.find(DedupKeyHolders, dedup_holders_id("apikey:test", "order-1"))
    assert holders is not None and len(holders.pending_events) == 1  # one claim for all
    assert cache.one_at_a_time.count(dedup_holders_id("apikey:test", "order-1")) == 1
    assert not {dedup_key_id("apikey:test", p, "order-1") for p in people} & (
        set(cache.one_at_a_time) | {i for ids in cache.together for i in ids})
    assert set(keyed()) == {"suppressed"}  # claimed in the batch: the repeat is a duplicate


def test_with_legacy_keys_on_a_claim_of_the_versions_before_still_suppresses():
    seeded = ReadsCountedBatch()
    people = [someone_with_a_phone(seeded) for _ in range(3)]
    old = DedupKey.claim("apikey:test", people[0], "order-1", uuid.uuid4(), NOW, 3600, CAUSE)
    seeded.aggregates[old.id] = old
    cache = CountedCache(seeded.aggregates)
    batch = Batch(None, cache)  # type: ignore[arg-type]

    def keyed(legacy: bool) -> tuple[str, ...]:
        return trigger_notifications(batch, TriggerNotifications(
            uuid.uuid4(), "apikey:test", tuple(people), "system", "normal", ("in_app",),
            Content("Title", "Body"), NOW, dedup_key="order-1", dedup_legacy_keys=legacy),
            CAUSE).states

    assert keyed(True) == ("suppressed", "delivered", "delivered")
    assert [dedup_key_id("apikey:test", p, "order-1") for p in people] in cache.together


def test_a_templated_trigger_looks_each_template_up_once_for_all_its_recipients():
    batch = ReadsCountedBatch()
    people = [someone_with_a_phone(batch) for _ in range(3)]
    for channel in ("push", "in_app"):
        create_template(batch, CreateTemplate(  # type: ignore[arg-type]
            "system", channel, "default", TemplateParts("{{ title }}", "For {{ who }}", None),
            {"title": "T", "who": "w"}, {"system": frozenset({"title", "who"})}, NOW), CAUSE)
    batch.asked.clear()
    answer = trigger_notifications(batch, TriggerNotifications(  # type: ignore[arg-type]
        uuid.uuid4(), "apikey:test", tuple(people), "system", "normal", ("push", "in_app"),
        Content("", ""), NOW, provided_kinds=frozenset({"in_app", "fcm"}),
        template_variables={"title": "Hello", "who": "Ada"}), CAUSE)
    assert batch.asked.count(NotificationTemplate) == 2  # one per channel, not per recipient
    made = [batch.aggregates[nid] for nid in answer.notification_ids]
    assert all(n.channels == ["push"] and n.rendered["push"]["body"] == "For Ada"
               and n.rendered["in_app"]["title"] == "Hello" for n in made)


def test_an_sms_trigger_reads_every_recipients_consents_in_one_read_and_texts_the_consented():
    seeded = ReadsCountedBatch()
    people = [someone_with_a_phone(seeded) for _ in range(3)]
    numbers = [f"+3519123456{n:02d}" for n in range(3)]
    for n, (person, number) in enumerate(zip(people, numbers, strict=True)):
        phone = add_phone(seeded, AddPhone(person, uuid.uuid4(), number, None, NOW,
                                           ContactPointRules(20)), CAUSE).contact_point_id
        if n:  # the first never consented
            grant_sms_consent(seeded, GrantSmsConsent(  # type: ignore[arg-type]
                person, phone, "Text me alerts. Reply STOP to cancel.", "api", NOW), CAUSE)
    cache = CountedCache(seeded.aggregates)
    answer = trigger_notifications(Batch(None, cache), TriggerNotifications(  # type: ignore[arg-type]
        uuid.uuid4(), "apikey:test", tuple(people), "system", "normal", ("sms", "in_app"),
        Content("Title", "Body"), NOW.replace(hour=12), provided_kinds=frozenset({"phone"})),
        CAUSE)
    consents = [sms_consent_id(n) for n in numbers]
    assert [sorted(ids) for ids in cache.together if set(ids) & set(consents)] \
        == [sorted(consents)]
    assert not set(consents) & set(cache.one_at_a_time)
    assert answer.states == ("delivered", "queued", "queued")  # no consent: the inbox only


def test_a_digested_trigger_reads_every_recipients_digest_slot_in_one_read():
    seeded = ReadsCountedBatch()
    people = [someone_with_a_phone(seeded) for _ in range(3)]
    cache = CountedCache(seeded.aggregates)
    batch = Batch(None, cache)  # type: ignore[arg-type]

    def digested() -> tuple[str, ...]:
        return trigger_notifications(batch, TriggerNotifications(
            uuid.uuid4(), "apikey:test", tuple(people), "system", "normal", ("in_app",),
            Content("Title", "Body"), NOW, digest=DigestAsk("book-club", 300)), CAUSE).states

    assert set(digested()) == {"digested"}
    slots = [digest_slot_id("apikey:test", p, "system", "book-club") for p in people]
    assert slots in cache.together and not set(slots) & set(cache.one_at_a_time)
    assert set(digested()) == {"digested"}  # the second joins the digests the first opened
