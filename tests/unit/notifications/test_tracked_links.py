"""Tracked links: a token names a notification, a channel and a link's index and nothing else,
cannot be forged or altered; an email's http(s) links are sent as tracked links that resolve,
through the notification's own content, to exactly the links it carried; following one
records `Clicked` at most once per link per minute, and a link the notification does not have
is an unknown link."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from email.headerregistry import Address as MailAddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.notifications.email_message import compose_email
from commands.notifications.providers import Delivery
from commands.notifications.trace_steps import DESCRIPTIONS
from domain.notifications.addresses import Address
from domain.notifications.channels import EMAIL, EMAIL_ADDRESS, IN_APP
from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.notifications import Notification
from domain.notifications.tracked_links import (
    IN_APP_CLICK,
    LINKS_PATH,
    MAX_CLICKS,
    MAX_LINKS,
    REPEAT_SECONDS,
    TRACKED_LINK,
    LinkClaim,
    TrackedLinkNotFound,
    TrackedLinks,
    links_of,
    with_links,
)
from domain.notifications.unsubscribe import UnsubscribeLinks
from projections.notifications.analytics import NotificationAnalyticsProjector
from projections.read_model.documents import PatchMatching, Upsert
from tests.builders import a_cause, now

KEY = b"the server's email-link key......"
LINKS = TrackedLinks(KEY, "https://parley.example")
channels = st.sampled_from(["email", "push", "sms", "webhook", "in_app"])
REACHABLE = RecipientFacts(frozenset({EMAIL_ADDRESS, IN_APP}), frozenset({EMAIL_ADDRESS, IN_APP}))
ORDER = "https://shop.example.com/orders/1042?ref=mail&x=1"
HELP = "https://help.example.com/returns"


def a_notification(content: Content, channels: tuple[str, ...] = (EMAIL, IN_APP)
                   ) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="normal", channels=channels,
        fallback_after_seconds=None, content=content, send_at=None, cancellation_key=None,
        caller="apikey:test", at=now(), cause=a_cause())
    notification.route(decide(RoutingRequest("system", "normal", channels, None), REACHABLE,
                              now()), now(), a_cause())
    return notification


def clicks(notification: Notification) -> list[Notification.Clicked]:
    return [e for e in notification.collect_events() if isinstance(e, Notification.Clicked)]


@given(st.uuids(), channels, st.integers(0, MAX_LINKS - 1))
def test_a_link_reads_back_as_its_notification_channel_and_index(
        notification: uuid.UUID, channel: str, index: int) -> None:
    link = LINKS.link(notification, channel, index)

    assert link.startswith(f"https://parley.example{LINKS_PATH}/k1.")
    assert LINKS.read(link.rpartition("/")[2]) == LinkClaim(notification, channel, index)


@given(st.uuids(), channels, st.integers(0, MAX_LINKS - 1), st.data())
def test_a_token_changed_anywhere_is_an_unknown_link(notification: uuid.UUID, channel: str,
                                                     index: int, data: st.DataObject) -> None:
    token = LINKS.token(notification, channel, index)
    at = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.sampled_from("ABCxyz019-_.=").filter(lambda c: c != token[at]))

    with pytest.raises(TrackedLinkNotFound):
        LINKS.read(token[:at] + other + token[at + 1:])


@pytest.mark.parametrize("token", ["", "k1", "k1..", "k2.AAAA.AAAA", "x" * 5000,
                                   "k1.\u00e9\u00e9.\u00e9", "../../etc/passwd"])
def test_malformed_tokens_are_unknown_links(token: str) -> None:
    with pytest.raises(TrackedLinkNotFound):
        LINKS.read(token)


def test_another_keys_token_and_an_unsubscribe_token_are_unknown_links() -> None:
    notification = uuid.uuid4()
    other_key = TrackedLinks(b"another deployment's key.........").token(notification, EMAIL, 0)
    unsubscribe = UnsubscribeLinks(KEY).token(notification, "email")

    for token in (other_key, unsubscribe, "k1" + unsubscribe[2:]):
        with pytest.raises(TrackedLinkNotFound):
            LINKS.read(token)


def test_a_notifications_links_are_its_deep_link_then_body_urls_then_hrefs_each_once() -> None:
    content = Content("Order", f"Your order: {ORDER}. Questions? ({HELP}) or {ORDER}",
                      deep_link="parley://orders/1042",
                      html=f'<a href="{ORDER.replace("&", "&amp;")}">order</a>'
                           '<a href="https://example.com/terms">terms</a>'
                           '<a href="javascript:alert(1)">x</a>')

    assert links_of(content) == ("parley://orders/1042", ORDER, HELP, "https://example.com/terms")


def test_an_unsafe_deep_link_is_no_link_and_only_the_first_fifty_links_count() -> None:
    many = " ".join(f"https://example.com/{i}" for i in range(MAX_LINKS + 5))

    links = links_of(Content("Many", many, deep_link="javascript:alert(1)"))

    assert links == tuple(f"https://example.com/{i}" for i in range(MAX_LINKS))


def test_rewriting_replaces_each_web_link_by_its_tracked_link_and_nothing_else() -> None:
    content = Content("Order", f"See {ORDER}.\nHelp: {HELP}", deep_link="parley://orders/1",
                      html=f'<p><a href="{ORDER.replace("&", "&amp;")}">order</a> '
                           f"{HELP}</p>")

    rewritten = with_links(content, lambda index: f"https://t.example/{index}")

    assert rewritten.body == "See https://t.example/1.\nHelp: https://t.example/2"
    assert rewritten.deep_link == "parley://orders/1"  # a custom scheme: never redirected
    # hrefs are rewritten; a URL shown as text in the HTML stays what the reader reads
    assert rewritten.html == f'<p><a href="https://t.example/1">order</a> {HELP}</p>'
    assert rewritten.title == "Order"


urls = st.builds(lambda host, path: f"https://{host}.example/{path}",
                 st.text("abcdefgh", min_size=1, max_size=6),
                 st.text("abc/?=&%-_.~()", max_size=12))


@given(st.lists(urls, min_size=1, max_size=8), st.lists(urls, max_size=4),
       st.one_of(st.none(), urls))
def test_every_rewritten_link_leads_back_to_the_link_it_replaced(
        in_body: list[str], in_html: list[str], deep_link: str | None) -> None:
    body = " and ".join(in_body)
    markup = "".join(f'<a href="{u.replace("&", "&amp;")}">x</a>' for u in in_html)
    notification = a_notification(Content("T", body, deep_link=deep_link))
    notification.rendered[EMAIL] = {"title": "T", "body": body, "html": markup or None}
    sent = LINKS.rewritten(notification.content_on(EMAIL), notification.id, EMAIL)

    followed = [notification.click(claim.channel, claim.index, TRACKED_LINK,
                                   now() + timedelta(minutes=i), a_cause())[0]
                for i, claim in enumerate(LINKS.read(token.rpartition("/")[2])
                                          for token in _tracked(sent))]

    expected = links_of(notification.content_on(EMAIL))
    assert set(followed) == {link for link in expected if link.startswith("https://")}


def _tracked(content: Content) -> list[str]:
    """The tracked links in the content, as a reader's mail client finds them."""
    text = f"{content.body} {content.html or ''} {content.deep_link or ''}"
    return re.findall(re.escape(f"https://parley.example{LINKS_PATH}/") + r"k1\.[\w-]+\.[\w-]+",
                      text)


def test_following_a_link_records_it_once_a_minute_and_answers_the_link() -> None:
    notification = a_notification(Content("Order", f"See {ORDER}", deep_link=HELP))
    notification.collect_events()

    first = notification.click(EMAIL, 1, TRACKED_LINK, now(), a_cause())
    scanner = notification.click(EMAIL, 1, TRACKED_LINK, now() + timedelta(seconds=5),
                                 a_cause())
    other = notification.click(EMAIL, 0, TRACKED_LINK, now() + timedelta(seconds=6), a_cause())
    later = notification.click(EMAIL, 1, TRACKED_LINK,
                               now() + timedelta(seconds=REPEAT_SECONDS), a_cause())

    assert (first, scanner, other, later) == ((ORDER, True), (ORDER, False), (HELP, True),
                                              (ORDER, True))
    assert [(c.channel, c.link_index, c.link, c.source) for c in clicks(notification)] == [
        (EMAIL, 1, ORDER, TRACKED_LINK), (EMAIL, 0, HELP, TRACKED_LINK),
        (EMAIL, 1, ORDER, TRACKED_LINK)]


def test_clicks_beyond_the_limit_are_answered_and_not_recorded() -> None:
    notification = a_notification(Content("Order", f"See {ORDER}"))
    for minute in range(MAX_CLICKS + 3):
        link, _ = notification.click(EMAIL, 0, TRACKED_LINK, now() + timedelta(minutes=minute),
                                     a_cause())
        assert link == ORDER

    assert len(clicks(notification)) == MAX_CLICKS


@pytest.mark.parametrize(("channel", "index"), [(EMAIL, 1), (EMAIL, -1), (EMAIL, 50),
                                                ("sms", 0), ("push", 0)])
def test_a_link_the_notification_does_not_have_on_that_channel_is_unknown(
        channel: str, index: int) -> None:
    notification = a_notification(Content("Order", f"See {ORDER}"))
    notification.collect_events()

    with pytest.raises(TrackedLinkNotFound):
        notification.click(channel, index, TRACKED_LINK, now(), a_cause())
    assert clicks(notification) == []


def test_an_in_app_click_needs_the_notification_in_the_inbox() -> None:
    held = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="normal", channels=(IN_APP,),
        fallback_after_seconds=None, content=Content("T", "B"), send_at=None,
        cancellation_key=None, caller="apikey:test", at=now(), cause=a_cause())
    with pytest.raises(TrackedLinkNotFound):
        held.click(IN_APP, None, IN_APP_CLICK, now(), a_cause())

    posted = a_notification(Content("T", "B"), (IN_APP,))
    assert posted.click(IN_APP, None, IN_APP_CLICK, now(), a_cause()) == (None, True)


def test_an_email_carries_its_links_as_tracked_links_and_its_unsubscribe_link_as_it_is() -> None:
    content = Content("Order shipped", f"Track it: {ORDER}", deep_link=HELP)
    notification = uuid.uuid4()
    delivery = Delivery(uuid.uuid4(), notification, uuid.uuid4(), EMAIL, "normal", "marketing",
                        Address(EMAIL_ADDRESS, "bo@example.com", "cp1"), content)
    unsubscribe = "https://parley.example/v1/notifications/unsubscribe/u1.abc.def"

    message = compose_email(delivery, sender=MailAddress("Parley", "no-reply", "example.com"),
                            recipient=MailAddress("", "bo", "example.com"),
                            message_id_domain="example.com", now=now(),
                            unsubscribe_url=unsubscribe, tracked_links=LINKS)

    text, markup = (part.get_content() for part in message.iter_parts())
    order, help_link = LINKS.link(notification, EMAIL, 1), LINKS.link(notification, EMAIL, 0)
    assert f"Track it: {order}" in text and help_link in text
    assert f'<a href="{help_link}">Open in Parley</a>' in markup and order in markup
    assert ORDER not in text + markup and HELP not in text + markup
    assert unsubscribe in text and f'href="{unsubscribe}"' in markup
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"


def test_a_click_counts_on_the_channel_it_was_made_on() -> None:
    notification = a_notification(Content("Order", f"See {ORDER}"))
    notification.collect_events()
    clicked_at = now()
    notification.click(EMAIL, 0, TRACKED_LINK, clicked_at, a_cause())
    [clicked] = clicks(notification)

    [change] = NotificationAnalyticsProjector().changes(clicked, 7)

    assert isinstance(change, Upsert) and not isinstance(change, PatchMatching)
    assert change.doc_id == f"{notification.id}:{EMAIL}"
    assert change.fields == {"clicked_at_ms": int(clicked_at.timestamp() * 1000)}


def test_the_trace_says_which_link_was_clicked_where_and_never_the_link() -> None:
    describe = DESCRIPTIONS["Clicked"]
    email = {"channel": EMAIL, "link_index": 2, "link": ORDER, "source": TRACKED_LINK}
    app = {"channel": IN_APP, "link_index": None, "link": None, "source": IN_APP_CLICK}

    assert describe(email) == ("clicked", "link 2 clicked on email (said by a tracked link)")
    assert describe(app) == ("clicked", "the notification clicked on in_app (said by the app)")


def test_transactional_mail_carries_its_links_as_they_are() -> None:
    link = "https://parley.example/verify?token=secret"
    delivery = Delivery(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), EMAIL, "high", "account",
                        Address(EMAIL_ADDRESS, "bo@example.com", "cp1"),
                        Content("Verify your address", f"Open {link}", deep_link=link))

    message = compose_email(delivery, sender=MailAddress("Parley", "no-reply", "example.com"),
                            recipient=MailAddress("", "bo", "example.com"),
                            message_id_domain="example.com", now=now(), tracked_links=LINKS)

    text, markup = (part.get_content() for part in message.iter_parts())
    assert f"Open {link}" in text and LINKS_PATH not in text + markup


def test_single_quoted_hrefs_count_and_data_hrefs_do_not() -> None:
    markup = (f"<A class='x' HREF = '{HELP}'>help</A>"
              f'<a data-href="https://example.com/not-a-link" href="{ORDER.replace("&", "&amp;")}">'
              "order</a>")

    assert links_of(Content("T", "B", html=markup)) == (HELP, ORDER)


@pytest.mark.parametrize("markup", ['<a href="' * 30_000, "<a " * 60_000,
                                    "<a " + "x" * 250_000, '<a href="x">' * 20_000])
def test_hostile_markup_is_read_in_one_pass(markup: str) -> None:
    started = time.perf_counter()

    links_of(Content("T", "B", html=markup))
    with_links(Content("T", HELP, html=markup), lambda index: "https://t.example/0")

    assert time.perf_counter() - started < 1.0  # quadratic, it took seconds


def test_a_url_in_text_keeps_the_brackets_it_opened_and_not_the_sentences() -> None:
    body = ("See https://en.example.org/wiki/Mercury_(planet). (Or https://help.example.com/a)"
            " and [https://example.com/b]; then https://example.com/c)" + ")" * 9_000)

    assert links_of(Content("T", body)) == (
        "https://en.example.org/wiki/Mercury_(planet)", "https://help.example.com/a",
        "https://example.com/b", "https://example.com/c")
