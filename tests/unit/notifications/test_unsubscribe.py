"""One-click unsubscribe (RFC 8058): the signed token names a user and a category and nothing
else, cannot be forged or altered, and opting out is recorded once; routing then leaves
email out for that category alone, and never for transactional mail."""

from __future__ import annotations

import base64
import uuid

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from commands.notifications.unsubscribe import (
    EmailUnsubscribed,
    UnsubscribeEmail,
    unsubscribe_email,
)
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.decisions import (
    UNSUBSCRIBED,
    RecipientFacts,
    RoutingRequest,
    decide,
)
from domain.notifications.errors import UnsubscribeLinkNotFound
from domain.notifications.unsubscribe import (
    MAX_CATEGORY_BYTES,
    UNSUBSCRIBE_PATH,
    UnsubscribeClaim,
    UnsubscribeLinks,
)
from event_log.batch import Batch
from tests.builders import a_cause, now

LINKS = UnsubscribeLinks(b"the server's unsubscribe key....", "https://parley.example")
categories = st.text(min_size=1, max_size=20).filter(
    lambda c: c not in ("security", "account", "payment") and len(c.encode()) <= MAX_CATEGORY_BYTES)


@given(st.uuids(), categories)
def test_a_link_reads_back_as_its_user_and_category(user: uuid.UUID, category: str) -> None:
    link = LINKS.link(user, category)

    assert link is not None and link.startswith(f"https://parley.example{UNSUBSCRIBE_PATH}/")
    assert LINKS.read(link.rpartition("/")[2]) == UnsubscribeClaim(user, category)


@given(st.uuids(), categories, st.data())
def test_a_token_changed_anywhere_is_an_unknown_link(user: uuid.UUID, category: str,
                                                     data: st.DataObject) -> None:
    token = LINKS.token(user, category)
    index = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.sampled_from("ABCxyz019-_.=").filter(lambda c: c != token[index]))

    with pytest.raises(UnsubscribeLinkNotFound):
        LINKS.read(token[:index] + other + token[index + 1:])


def test_a_token_spelled_another_way_is_an_unknown_link() -> None:
    """The MAC's last base64 character has 4 unused bits: flipping one decodes the same."""
    token = LINKS.token(uuid.uuid4(), "mention")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]

    with pytest.raises(UnsubscribeLinkNotFound):
        LINKS.read(respelled)


@given(st.text(max_size=300))
def test_anything_not_issued_by_the_key_is_an_unknown_link(text: str) -> None:
    with pytest.raises(UnsubscribeLinkNotFound):
        LINKS.read(text)


def test_another_key_and_another_purpose_do_not_make_valid_tokens() -> None:
    user = uuid.uuid4()
    forged = UnsubscribeLinks(b"some other key..................").token(user, "marketing")

    with pytest.raises(UnsubscribeLinkNotFound):
        LINKS.read(forged)


def test_the_token_carries_the_user_id_and_category_only() -> None:
    user = uuid.uuid4()
    claim = LINKS.token(user, "mention").split(".")[1]

    assert base64.urlsafe_b64decode(claim + "=" * (-len(claim) % 4)) == user.bytes + b"mention"
    assert "unsubscribe key" not in repr(LINKS)


def test_transactional_mail_has_no_link() -> None:
    assert LINKS.link(uuid.uuid4(), "security") is None
    assert LINKS.link(uuid.uuid4(), "account") is None


def a_book() -> ContactPoints:
    return ContactPoints.start(uuid.uuid4(), a_cause())


def test_unsubscribing_is_recorded_once_however_often_the_link_is_posted() -> None:
    book = a_book()

    assert book.unsubscribe_email("mention", now(), a_cause())
    assert not book.unsubscribe_email("mention", now(), a_cause())

    recorded = [e for e in book.collect_events()
                if isinstance(e, ContactPoints.EmailCategoryUnsubscribed)]
    assert [e.category for e in recorded] == ["mention"]
    assert book.opted_out == frozenset({("email", "mention")})


def test_transactional_categories_cannot_be_unsubscribed_from() -> None:
    book = a_book()

    assert not book.unsubscribe_email("security", now(), a_cause())
    assert book.opted_out == frozenset()


def test_critical_mail_has_no_link_by_the_deployments_critical_categories() -> None:
    user = uuid.uuid4()
    assert LINKS.link(user, "payment") is None  # critical by default
    theirs = UnsubscribeLinks(LINKS.key, LINKS.public_url, frozenset({"security", "alerts"}))
    assert theirs.link(user, "alerts") is None and not theirs.offers("alerts")
    assert theirs.link(user, "payment") is not None and theirs.offers("payment")


def a_user_with_contact_points(batch: Batch) -> uuid.UUID:
    user = uuid.uuid4()
    book = ContactPoints.start(user, a_cause(user))
    assert book.id == contact_points_id(user)
    batch.add(book)
    return user


def test_a_link_mailed_before_its_category_was_made_critical_unsubscribes_nothing() -> None:
    batch = Batch(Application().repository)
    user = a_user_with_contact_points(batch)
    token = LINKS.token(user, "payment")  # mailed while payment was not critical
    claim = LINKS.read(token)  # still a link this server issued

    answer = unsubscribe_email(batch, UnsubscribeEmail(claim.user_id, claim.category, now()),
                               a_cause(user))

    assert answer == EmailUnsubscribed("payment", new=False, unsubscribed=False)
    book = batch.find(ContactPoints, contact_points_id(user))
    assert book is not None and book.opted_out == frozenset()
    assert not [e for e in book.collect_events()
                if isinstance(e, ContactPoints.EmailCategoryUnsubscribed)]
    made_critical = CategoryPolicy(critical=frozenset({"mention"}))
    assert unsubscribe_email(batch, UnsubscribeEmail(user, "mention", now(), made_critical),
                             a_cause(user)).unsubscribed is False
    assert unsubscribe_email(batch, UnsubscribeEmail(user, "mention", now()),
                             a_cause(user)) == EmailUnsubscribed("mention", new=True)


def test_an_unsubscribe_recorded_before_its_category_was_critical_skips_no_critical_email(
        ) -> None:
    opted_out = frozenset({("email", "payment")})
    assert routed("payment", opted_out, critical=True) == (("email", "in_app"), ())
    assert routed("payment", opted_out) == (("in_app",), (f"reachability: {UNSUBSCRIBED}",))


def routed(category: str, opted_out: frozenset[tuple[str, str]], critical: bool = False
           ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    facts = RecipientFacts(frozenset({"email", "in_app"}), frozenset({"email", "in_app"}),
                           opted_out)
    routing = decide(RoutingRequest(category, "normal", ("email", "in_app"), None, critical),
                     facts, now())
    return routing.channels, tuple(reason for _, reason in routing.skipped)


def test_routing_skips_email_for_the_category_unsubscribed_from_and_only_that_one() -> None:
    opted_out = frozenset({("email", "mention")})

    assert routed("mention", opted_out) == (("in_app",), (f"reachability: {UNSUBSCRIBED}",))
    assert routed("friend_request", opted_out) == (("email", "in_app"), ())
