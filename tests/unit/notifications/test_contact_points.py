"""A user's contact points: the same address once, a device's token or subscription
replaced, a cap per user, only verified email addresses reached, webhook secrets rotated with
an overlap, gone tokens removed; commands that record nothing when their input is bad; and
the listing read model, which never holds a secret."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.audit.entries import payload_of, state_of
from commands.notifications.contact_points import (
    CONTACT_POINT_HANDLERS,
    AddEmail,
    AddPhone,
    AddWebhookEndpoint,
    ContactPointRegistered,
    ContactPointRules,
    RegisterDeviceToken,
    RemoveContactPoint,
    RemoveDeviceContactPoints,
    RemoveGoneContactPoint,
    RotateWebhookSecret,
    SubscribeWebPush,
    VerifyEmail,
)
from commands.notifications.signed_out_devices import SignedOutDevices
from domain.identity.devices import Device
from domain.notifications.contact_point_values import WebPushSubscription
from domain.notifications.contact_points import (
    BY_USER,
    DEVICE_SIGNED_OUT,
    GONE,
    REPLACED,
    ContactPoints,
    contact_points_id,
)
from domain.notifications.email_verification import EmailVerification
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.errors import (
    ContactPointNotFound,
    InvalidContactPoint,
    InvalidVerificationToken,
    NotAWebhookEndpoint,
    TooManyContactPoints,
)
from domain.notifications.webhook_secrets import ROTATION_OVERLAP, WebhookSecrets
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog
from projections.notifications.contact_points import CONTACT_POINTS, ContactPointsProjector
from tests.builders import a_cause, now
from tests.unit.notifications.test_contact_point_values import AUTH, a_p256dh

LIMIT = 20
HOOK = "https://bots.example.com/parley/hooks"
FCM = "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"
RULES = ContactPointRules(LIMIT)
VERIFICATION = EmailVerification(b"k" * 32)


def points_of(user: uuid.UUID | None = None) -> tuple[ContactPoints, Cause]:
    user = user or uuid.uuid4()
    cause = a_cause(user)
    return ContactPoints.start(user, cause), cause


def a_subscription(endpoint: str = "https://push.example.net/wpush/1") -> WebPushSubscription:
    return WebPushSubscription(endpoint, a_p256dh(), AUTH)


def test_each_user_has_one_aggregate_whose_id_is_derived_from_theirs() -> None:
    user = uuid.uuid4()
    assert contact_points_id(user) == contact_points_id(user) != contact_points_id(uuid.uuid4())
    assert ContactPoints.start(user, a_cause(user)).id == contact_points_id(user)


def test_the_same_email_address_twice_is_the_same_contact_point() -> None:
    points, cause = points_of()
    first = points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, now(), cause)
    again = points.add_email(uuid.uuid4(), "ADA@example.com", LIMIT, now(), cause)
    assert (first.new, again.new) == (True, False)
    assert again.point.contact_point_id == first.point.contact_point_id
    assert len(points.points) == 1


def test_adding_an_unverified_address_again_asks_for_a_new_link_at_most_once_a_minute(
) -> None:
    points, cause = points_of()
    start = now()
    added = points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, start, cause)
    for seconds in (1, 59, 60, 61, 130):
        points.add_email(uuid.uuid4(), "ada@example.com", LIMIT,
                         start + timedelta(seconds=seconds), cause)
    asked = [e.at - start for e in points.collect_events()
             if isinstance(e, ContactPoints.EmailVerificationRequested)]
    assert asked == [timedelta(seconds=60), timedelta(seconds=130)]
    points.verify_email(added.point.contact_point_id, start, cause)
    points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, start + timedelta(hours=1), cause)
    assert not any(isinstance(e, ContactPoints.EmailVerificationRequested)
                   for e in points.collect_events())


def test_an_email_address_is_reached_only_once_verified() -> None:
    points, cause = points_of()
    added = points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, now(), cause)
    assert points.addresses({"email"}, now()) == []
    [unverified] = points.addresses({"email"}, now(), include_unverified=True)  # the link's
    assert unverified.contact_point_id == str(added.point.contact_point_id)
    assert points.verify_email(added.point.contact_point_id, now(), cause) is True
    assert points.verify_email(added.point.contact_point_id, now(), cause) is False
    [address] = points.addresses({"email"}, now())
    assert (address.kind, address.value, address.contact_point_id) == (
        "email", "ada@example.com", str(added.point.contact_point_id))


def test_addresses_are_those_of_the_kinds_asked_for_in_the_order_added() -> None:
    points, cause = points_of()
    device = uuid.uuid4()
    points.add_phone(uuid.uuid4(), "+442079460018", LIMIT, now(), cause)
    subscription = a_subscription()
    points.subscribe_web_push(uuid.uuid4(), device, subscription, LIMIT, now(), cause)
    points.register_device_token(uuid.uuid4(), device, "fcm", FCM, LIMIT, now(), cause)
    push = points.addresses({"webpush", "fcm", "apns"}, now())
    assert [(a.kind, a.value, a.device_id) for a in push] == [
        ("webpush", subscription.endpoint, str(device)), ("fcm", FCM, str(device))]
    assert push[0].keys == {"p256dh": subscription.p256dh, "auth": AUTH}
    assert [a.value for a in points.addresses({"phone"}, now())] == ["+442079460018"]
    assert points.addresses(set(), now()) == []


def test_a_device_registering_again_replaces_its_token_and_keeps_its_contact_point() -> None:
    points, cause = points_of()
    device = uuid.uuid4()
    first = points.register_device_token(uuid.uuid4(), device, "fcm", FCM, LIMIT, now(), cause)
    same = points.register_device_token(uuid.uuid4(), device, "fcm", FCM, LIMIT, now(), cause)
    assert same.new is False and len(points.collect_events()) == 2  # started, registered
    renewed = points.register_device_token(uuid.uuid4(), device, "fcm", FCM + "x", LIMIT,
                                           now(), cause)
    assert renewed.point.contact_point_id == first.point.contact_point_id
    assert [a.value for a in points.addresses({"fcm"}, now())] == [FCM + "x"]


def test_a_new_subscription_of_a_device_replaces_its_old_one() -> None:
    points, cause = points_of()
    device = uuid.uuid4()
    old, new = a_subscription("https://push.example.net/a"), a_subscription(
        "https://push.example.net/b")
    points.subscribe_web_push(uuid.uuid4(), device, old, LIMIT, now(), cause)
    points.subscribe_web_push(uuid.uuid4(), device, new, LIMIT, now(), cause)
    assert [a.value for a in points.addresses({"webpush"}, now())] == [new.endpoint]


def test_a_token_that_moves_to_another_device_leaves_the_first_one() -> None:
    points, cause = points_of()
    phone, tablet = uuid.uuid4(), uuid.uuid4()
    first = points.register_device_token(uuid.uuid4(), phone, "apns", "ab" * 32, LIMIT, now(),
                                         cause)
    points.register_device_token(uuid.uuid4(), tablet, "apns", "ab" * 32, LIMIT, now(), cause)
    assert [a.device_id for a in points.addresses({"apns"}, now())] == [str(tablet)]
    removed = [e for e in points.collect_events()
               if isinstance(e, ContactPoints.ContactPointRemoved)]
    assert [(e.contact_point_id, e.reason) for e in removed] == [
        (first.point.contact_point_id, REPLACED)]


def test_beyond_the_limit_a_new_contact_point_is_refused_but_a_known_one_is_not() -> None:
    points, cause = points_of()
    for n in range(3):
        points.add_email(uuid.uuid4(), f"ada{n}@example.com", 3, now(), cause)
    with pytest.raises(TooManyContactPoints):
        points.add_phone(uuid.uuid4(), "+442079460018", 3, now(), cause)
    with pytest.raises(TooManyContactPoints):
        points.register_device_token(uuid.uuid4(), uuid.uuid4(), "fcm", FCM, 3, now(), cause)
    assert points.add_email(uuid.uuid4(), "ada0@example.com", 3, now(), cause).new is False
    removed = next(iter(points.points))
    points.remove(removed, now(), cause)
    assert points.add_phone(uuid.uuid4(), "+442079460018", 3, now(), cause).new is True


def test_a_full_device_may_still_replace_its_own_token() -> None:
    points, cause = points_of()
    device = uuid.uuid4()
    points.register_device_token(uuid.uuid4(), device, "fcm", FCM, 1, now(), cause)
    points.register_device_token(uuid.uuid4(), device, "fcm", FCM + "y", 1, now(), cause)
    assert [a.value for a in points.addresses({"fcm"}, now())] == [FCM + "y"]


def test_rotating_a_secret_keeps_the_previous_one_valid_for_a_day_only() -> None:
    points, cause = points_of()
    first, second = new_signing_secret(), new_signing_secret()
    added = points.add_webhook_endpoint(uuid.uuid4(), HOOK, first, LIMIT, now(), cause)
    hook = added.point.contact_point_id
    at = now()
    points.rotate_webhook_secret(hook, second, at, cause)
    [during] = points.addresses({"webhook"}, at + ROTATION_OVERLAP - timedelta(seconds=1))
    [after] = points.addresses({"webhook"}, at + ROTATION_OVERLAP)
    assert dict(during.keys) == {"secret": second, "previous_secret": first}
    assert dict(after.keys) == {"secret": second}


ROTATIONS = st.lists(st.integers(min_value=1, max_value=48 * 3600), min_size=1, max_size=8)


@given(ROTATIONS, st.integers(min_value=0, max_value=72 * 3600))
def test_at_any_time_the_current_secret_and_at_most_the_one_before_are_valid(
        gaps: list[int], probe: int) -> None:
    points, cause = points_of()
    start = now()
    secrets = [new_signing_secret()]
    hook = points.add_webhook_endpoint(uuid.uuid4(), HOOK, secrets[0], LIMIT, start,
                                       cause).point.contact_point_id
    at = start
    for gap in gaps:
        at += timedelta(seconds=gap)
        secrets.append(new_signing_secret())
        points.rotate_webhook_secret(hook, secrets[-1], at, cause)
    moment = at + timedelta(seconds=probe)
    [address] = points.addresses({"webhook"}, moment)
    expected = {"secret": secrets[-1]}
    if moment < at + ROTATION_OVERLAP:
        expected["previous_secret"] = secrets[-2]
    assert dict(address.keys) == expected


def test_only_a_webhook_endpoint_has_a_secret_to_rotate() -> None:
    points, cause = points_of()
    phone = points.add_phone(uuid.uuid4(), "+442079460018", LIMIT, now(), cause)
    with pytest.raises(NotAWebhookEndpoint):
        points.rotate_webhook_secret(phone.point.contact_point_id, "whsec_x", now(), cause)
    with pytest.raises(ContactPointNotFound):
        points.rotate_webhook_secret(uuid.uuid4(), "whsec_x", now(), cause)


def test_a_webhook_secret_is_recorded_by_an_event_of_its_own_module() -> None:
    """Secrets stay in the log: their events are in the module the relay never publishes."""
    points, cause = points_of()
    secret = new_signing_secret()
    hook = points.add_webhook_endpoint(uuid.uuid4(), HOOK, secret, LIMIT, now(), cause)
    points.rotate_webhook_secret(hook.point.contact_point_id, new_signing_secret(), now(), cause)
    events = points.collect_events()
    holding = [type(e) for e in events if secret in repr(vars(e))]
    assert holding == [WebhookSecrets.WebhookSecretIssued, WebhookSecrets.WebhookSecretRotated]
    assert {t.__module__ for t in holding} == {"domain.notifications.webhook_secrets"}
    assert secret not in repr(points.points)


def test_a_provider_saying_gone_removes_the_contact_point_once() -> None:
    points, cause = points_of()
    token = points.register_device_token(uuid.uuid4(), uuid.uuid4(), "fcm", FCM, LIMIT, now(),
                                         cause).point.contact_point_id
    assert points.remove_gone(str(token), "fcm-main", "UNREGISTERED", cause) is True
    assert points.remove_gone(token, "fcm-main", "UNREGISTERED", cause) is False
    assert points.addresses({"fcm"}, now()) == []
    [removed] = [e for e in points.collect_events()
                 if isinstance(e, ContactPoints.ContactPointRemoved)]
    assert (removed.reason, removed.provider, removed.code) == (GONE, "fcm-main",
                                                                "UNREGISTERED")


def test_a_signed_out_device_takes_its_push_registrations_with_it() -> None:
    points, cause = points_of()
    phone, laptop = uuid.uuid4(), uuid.uuid4()
    points.register_device_token(uuid.uuid4(), phone, "fcm", FCM, LIMIT, now(), cause)
    points.subscribe_web_push(uuid.uuid4(), phone, a_subscription(), LIMIT, now(), cause)
    points.subscribe_web_push(uuid.uuid4(), laptop, a_subscription("https://p.example.net/2"),
                              LIMIT, now(), cause)
    assert len(points.remove_device(phone, now(), cause)) == 2
    assert [a.device_id for a in points.addresses({"fcm", "webpush"}, now())] == [str(laptop)]
    reasons = {e.reason for e in points.collect_events()
               if isinstance(e, ContactPoints.ContactPointRemoved)}
    assert reasons == {DEVICE_SIGNED_OUT}


def test_removing_what_is_not_the_users_answers_not_found() -> None:
    points, cause = points_of()
    with pytest.raises(ContactPointNotFound):
        points.remove(uuid.uuid4(), now(), cause)


def test_the_aggregate_rebuilt_from_the_log_has_the_same_addresses() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    points, cause = points_of()
    hook = points.add_webhook_endpoint(uuid.uuid4(), HOOK, "whsec_a", LIMIT, now(), cause)
    points.rotate_webhook_secret(hook.point.contact_point_id, "whsec_b", now(), cause)
    points.register_device_token(uuid.uuid4(), uuid.uuid4(), "apns", "cd" * 32, LIMIT, now(),
                                 cause)
    log.save(points)
    again = log.repository.get(points.id)
    kinds = {"webhook", "apns"}
    assert again.addresses(kinds, now()) == points.addresses(kinds, now())


# The commands


class Writer:
    """Runs each command on a fresh batch over one in-memory log, as the writer would."""

    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def run(self, command: Any, actor: uuid.UUID) -> Any:
        batch = Batch(self.log.repository)
        result = CONTACT_POINT_HANDLERS[type(command)](batch, command, a_cause(actor))
        self.log.save(*batch.touched())
        return result

    def points(self, user: uuid.UUID) -> ContactPoints | None:
        return Batch(self.log.repository).find(ContactPoints, contact_points_id(user))


def add_email(user: uuid.UUID, address: str = "ada@example.com") -> AddEmail:
    return AddEmail(user, uuid.uuid4(), address, now(), RULES, VERIFICATION)


@pytest.mark.parametrize("command", [
    lambda u: add_email(u, "not an address"),
    lambda u: AddPhone(u, uuid.uuid4(), "12", None, now(), RULES),
    lambda u: SubscribeWebPush(u, uuid.uuid4(), uuid.uuid4(), "http://x.example/1", a_p256dh(),
                               AUTH, now(), RULES),
    lambda u: RegisterDeviceToken(u, uuid.uuid4(), uuid.uuid4(), "apns", "nothex", now(),
                                  RULES),
    lambda u: RegisterDeviceToken(u, uuid.uuid4(), uuid.uuid4(), "hms", FCM, now(), RULES),
    lambda u: AddWebhookEndpoint(u, uuid.uuid4(), "http://bots.example.com", "whsec_x", now(),
                                 RULES),
])
def test_a_command_with_bad_input_records_nothing(command: Any) -> None:
    """Not even the user's aggregate is started: a refused command leaves its batch as it
    was, so the other commands of a group commit are not redone."""
    writer, user = Writer(), uuid.uuid4()
    batch = Batch(writer.log.repository)
    given = command(user)
    with pytest.raises(InvalidContactPoint):
        CONTACT_POINT_HANDLERS[type(given)](batch, given, a_cause(user))
    assert batch.pending_event_count() == 0


def test_an_added_email_is_unverified_until_its_token_verifies_it() -> None:
    writer, user = Writer(), uuid.uuid4()
    added: ContactPointRegistered = writer.run(add_email(user), user)
    assert added.new and not added.verified
    assert not hasattr(added, "verification_token")  # never in a result a receipt keeps
    claim = VERIFICATION.read(VERIFICATION.token(user, added.contact_point_id, now()), now())
    assert (claim.user_id, claim.contact_point_id) == (user, added.contact_point_id)
    writer.run(VerifyEmail(user, claim.contact_point_id, now()), user)
    again: ContactPointRegistered = writer.run(add_email(user), user)
    assert again.verified and not again.new


def test_a_token_for_a_removed_address_verifies_nothing() -> None:
    writer, user = Writer(), uuid.uuid4()
    added: ContactPointRegistered = writer.run(add_email(user), user)
    writer.run(RemoveContactPoint(user, added.contact_point_id, now()), user)
    for claimed in (added.contact_point_id, uuid.uuid4()):
        with pytest.raises(InvalidVerificationToken):
            writer.run(VerifyEmail(user, claimed, now()), user)
    with pytest.raises(InvalidVerificationToken):
        writer.run(VerifyEmail(uuid.uuid4(), added.contact_point_id, now()), user)


def test_only_a_new_webhook_answers_its_secret_and_a_rotation_answers_the_new_one() -> None:
    writer, user = Writer(), uuid.uuid4()
    secret = new_signing_secret()
    first = writer.run(AddWebhookEndpoint(user, uuid.uuid4(), HOOK, secret, now(), RULES), user)
    again = writer.run(AddWebhookEndpoint(user, uuid.uuid4(), HOOK, new_signing_secret(), now(),
                                          RULES), user)
    assert (first.secret, again.secret) == (secret, None)
    assert secret not in repr(first)
    rotated = writer.run(RotateWebhookSecret(user, first.contact_point_id, "whsec_new", now()),
                         user)
    assert rotated.secret == "whsec_new" and "whsec_new" not in repr(rotated)


def test_someone_elses_contact_point_is_not_found_for_the_caller() -> None:
    writer, ada, eve = Writer(), uuid.uuid4(), uuid.uuid4()
    hook = writer.run(AddWebhookEndpoint(ada, uuid.uuid4(), HOOK, "whsec_a", now(), RULES), ada)
    writer.run(add_email(eve, "eve@example.com"), eve)
    for user in (eve, uuid.uuid4()):
        with pytest.raises(ContactPointNotFound) as removing:
            writer.run(RemoveContactPoint(user, hook.contact_point_id, now()), user)
        with pytest.raises(ContactPointNotFound) as rotating:
            writer.run(RotateWebhookSecret(user, hook.contact_point_id, "whsec_b", now()), user)
        assert str(removing.value) == str(rotating.value) == "no such contact point"


def test_gone_and_signed_out_removals_are_harmless_when_there_is_nothing_to_remove() -> None:
    writer, user = Writer(), uuid.uuid4()
    assert writer.run(RemoveGoneContactPoint(user, uuid.uuid4(), "fcm", "UNREGISTERED", now()),
                      user).contact_point_ids == ()
    assert writer.run(RemoveDeviceContactPoints(uuid.uuid4(), now()),
                      user).contact_point_ids == ()
    assert writer.points(user) is None


def test_a_device_signed_out_loses_its_push_registrations_by_a_process_manager() -> None:
    writer, user = Writer(), uuid.uuid4()
    phone, laptop = Device.sign_in(uuid.uuid4(), user, "phone", now(), a_cause(user)), \
        Device.sign_in(uuid.uuid4(), user, "laptop", now(), a_cause(user))
    writer.log.save(phone, laptop)
    for device in (phone, laptop):
        writer.run(RegisterDeviceToken(user, device.id, uuid.uuid4(), "fcm",
                                       f"{FCM}{device.name}", now(), RULES), user)
    phone.revoke(user, now(), a_cause(user))
    [revoked] = [e for e in phone.collect_events() if isinstance(e, Device.Revoked)]
    manager = SignedOutDevices()
    assert Device.Revoked in manager.reacts_to
    [command] = manager.react(revoked)
    removed = writer.run(command, manager.actor_id)
    assert len(removed.contact_point_ids) == 1
    points = writer.points(user)
    assert points is not None
    assert [a.device_id for a in points.addresses({"fcm"}, now())] == [str(laptop.id)]
    assert manager.react(object()) == []


# The listing read model


def documents_of(points: ContactPoints) -> dict[str, dict[str, Any]]:
    projector, documents = ContactPointsProjector(), {}
    for position, event in enumerate(points.collect_events(), start=1):
        for change in projector.changes(event, position):
            assert change.collection == CONTACT_POINTS
            merged = documents.get(change.doc_id, {}) | change.fields
            documents[change.doc_id] = {k: v for k, v in merged.items() if v is not None}
    return documents


def test_the_listing_masks_tokens_and_never_holds_a_secret() -> None:
    points, cause = points_of()
    device = uuid.uuid4()
    subscription = a_subscription("https://push.example.net/wpush/v2/abcdef987654")
    points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, now(), cause)
    points.add_phone(uuid.uuid4(), "+442079460018", LIMIT, now(), cause)
    points.register_device_token(uuid.uuid4(), device, "fcm", FCM, LIMIT, now(), cause)
    points.subscribe_web_push(uuid.uuid4(), device, subscription, LIMIT, now(), cause)
    points.add_webhook_endpoint(uuid.uuid4(), HOOK + "?key=hunter2", "whsec_secret", LIMIT,
                                now(), cause)
    documents = documents_of(points)
    shown = {d["kind"]: d["value"] for d in documents.values()}
    assert shown == {"email": "ada@example.com", "phone": "+442079460018",
                     "fcm": "…" + FCM[-6:], "webpush": "https://push.example.net/…987654",
                     "webhook": HOOK + "?…"}
    text = repr(documents)
    for secret in (FCM, subscription.p256dh, AUTH, "hunter2", "whsec_secret"):
        assert secret not in text
    assert {d["owner"] for d in documents.values()} == {str(points.id)}
    assert {d.get("device_id") for d in documents.values()} == {None, str(device)}


def test_a_removed_or_verified_contact_point_shows_as_such() -> None:
    points, cause = points_of()
    email = points.add_email(uuid.uuid4(), "ada@example.com", LIMIT, now(), cause)
    phone = points.add_phone(uuid.uuid4(), "+442079460018", LIMIT, now(), cause)
    points.verify_email(email.point.contact_point_id, now(), cause)
    points.remove(phone.point.contact_point_id, now(), cause)
    documents = documents_of(points)
    assert documents[str(email.point.contact_point_id)]["verified"] is True
    removed = documents[str(phone.point.contact_point_id)]
    assert (removed["state"], removed["removed_reason"]) == ("removed", BY_USER)


def test_event_times_are_those_given() -> None:
    points, cause = points_of()
    at = datetime(2026, 5, 1, 12, 0, tzinfo=now().tzinfo)
    added = points.add_phone(uuid.uuid4(), "+442079460018", LIMIT, at, cause)
    assert documents_of(points)[str(added.point.contact_point_id)]["added_at"] == at.isoformat()


def test_an_auditor_never_sees_a_webhook_secret() -> None:
    points, cause = points_of()
    hook = points.add_webhook_endpoint(uuid.uuid4(), HOOK, "whsec_first", LIMIT, now(), cause)
    points.rotate_webhook_secret(hook.point.contact_point_id, "whsec_second", now(), cause)
    seen = repr([payload_of(e) for e in points.collect_events()]) + repr(state_of(points))
    assert "whsec_first" not in seen and "whsec_second" not in seen
    assert HOOK in seen  # the rest of what happened is there to audit
