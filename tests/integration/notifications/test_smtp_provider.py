"""Email over SMTP against a local relay (aiosmtpd over TCP, STARTTLS or TLS, AUTH): what the
recipient's mailbox shows, and what each kind of refusal or failure answers."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.notifications.registry import ProviderEnvironment, build_providers
from adapters.notifications.smtp_email import SmtpProvider
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from domain.notifications.unsubscribe import UnsubscribeClaim, UnsubscribeLinks
from parley.notification_engine import build_providers as engine_providers
from tests.builders import embedded_settings
from tests.providers.servers import free_port
from tests.providers.smtp import SmtpRelay

pytestmark = [
    # aiosmtpd's own: it reads a deprecated attribute on each AUTH, and warns of AUTH without
    # STARTTLS on the implicit-TLS relay (which is TLS from the first byte)
    pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

USERNAME = "relay-user"
PASSWORD = "s3cret-relay-pass"  # the stand-in's account
SEND_BOUND_SECONDS = 10.0
PUBLIC_URL = "https://parley.example/chat"  # behind a proxy, under a path prefix
LINKS = UnsubscribeLinks(b"k" * 32, PUBLIC_URL)


@pytest.fixture(scope="module")
def relay() -> Iterator[SmtpRelay]:
    """A submission relay: STARTTLS required, then AUTH required."""
    with SmtpRelay(username=USERNAME, password=PASSWORD, security="starttls") as server:
        yield server


@pytest.fixture(scope="module")
def tls_relay() -> Iterator[SmtpRelay]:
    with SmtpRelay(username=USERNAME, password=PASSWORD, security="tls") as server:
        yield server


@pytest.fixture(scope="module")
def plain_relay() -> Iterator[SmtpRelay]:
    """A relay on 127.0.0.1 without TLS that still takes AUTH (what a downgrade looks like)."""
    with SmtpRelay(username=USERNAME, password=PASSWORD, security="none") as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_behaviours(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("relay", "tls_relay", "plain_relay"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


def an_entry(relay: SmtpRelay, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "smtp-main", "kind": "smtp", "host": relay.host, "port": relay.port,
        "security": relay.security, "username": USERNAME, "password": PASSWORD,
        "from_address": "notifications@parley.test", "from_name": "Parley",
        "ca_file": relay.ca_file, "timeout_seconds": 3, "local_hostname": "app.parley.test",
    }
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


def a_provider(relay: SmtpRelay, **overrides: Any) -> SmtpProvider:
    return SmtpProvider.from_config(an_entry(relay, **overrides), ProviderEnvironment())


def a_mailbox() -> str:
    return f"reader-{uuid.uuid4().hex[:10]}@example.org"


def an_email_delivery(to: str, *, title: str = "Ada mentioned you",
                      body: str = "Are you coming to the book club?\n\nIt starts at eight.",
                      deep_link: str | None = "https://parley.test/c/42",
                      unsubscribe_url: str | None = "https://parley.test/unsubscribe/tok-1",
                      attempt_id: uuid.UUID | None = None) -> Delivery:
    return Delivery(
        attempt_id=attempt_id or uuid.uuid4(), notification_id=uuid.uuid4(),
        recipient_id=uuid.uuid4(), channel="email", priority="normal", category="mention",
        address=Address(kind="email", value=to),
        content=Content(title=title, body=body, deep_link=deep_link),
        unsubscribe_url=unsubscribe_url)


def send(provider: SmtpProvider, delivery: Delivery) -> ProviderAnswer:
    async def bounded() -> ProviderAnswer:
        return await asyncio.wait_for(provider.send(delivery), SEND_BOUND_SECONDS)

    return asyncio.run(bounded())


def the_only(messages: list[EmailMessage]) -> EmailMessage:
    assert len(messages) == 1, f"{len(messages)} messages"
    return messages[0]


def part(message: EmailMessage, content_type: str) -> str:
    body = message.get_body(preferencelist=(content_type.split("/")[1],))
    assert body is not None and body.get_content_type() == content_type
    return str(body.get_content())


class Markup(HTMLParser):
    """The elements of an HTML part and the text inside each."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.links: list[str] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append(tag)
        self.links += [value or "" for name, value in attrs if tag == "a" and name == "href"]

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)


# --- what the recipient reads ------------------------------------------------------------------


def test_the_recipient_reads_one_message_with_the_title_as_subject_and_text_and_html_parts(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()
    delivery = an_email_delivery(reader, title="Ada mentioned you in “Book club” ✨")

    answer = send(a_provider(relay), delivery)

    message = the_only(relay.inbox(reader))
    assert answer.accepted and answer.provider_message_id == message["Message-ID"]
    assert message["Subject"] == "Ada mentioned you in “Book club” ✨"
    assert message["From"] == "Parley <notifications@parley.test>"
    assert message["To"] == reader
    assert message["Date"].datetime.tzinfo is not None
    assert message["X-Parley-Notification-Id"] == str(delivery.notification_id)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = part(message, "text/plain")
    assert "Are you coming to the book club?" in text and "It starts at eight." in text
    assert "https://parley.test/c/42" in text
    markup = Markup(part(message, "text/html"))
    assert markup.text["h1"] == ["Ada mentioned you in “Book club” ✨"]
    assert markup.text["p"][:2] == ["Are you coming to the book club?", "It starts at eight."]
    assert "https://parley.test/c/42" in markup.links


def test_the_relay_took_it_over_starttls_from_the_authenticated_account(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()

    send(a_provider(relay), an_email_delivery(reader))

    taken = [t for t in relay.transactions if reader in t.rcpt_tos]
    assert [(t.login, t.over_tls, t.mail_from) for t in taken] == [
        (USERNAME, True, "notifications@parley.test")]


def test_an_implicit_tls_relay_takes_it_too(tls_relay: SmtpRelay) -> None:
    reader = a_mailbox()

    answer = send(a_provider(tls_relay), an_email_delivery(reader))

    assert answer.accepted
    assert [t.over_tls for t in tls_relay.transactions if reader in t.rcpt_tos] == [True]


def test_plain_smtp_is_spoken_to_a_relay_on_127_0_0_1_when_configured(
        plain_relay: SmtpRelay) -> None:
    reader = a_mailbox()

    answer = send(a_provider(plain_relay), an_email_delivery(reader))

    assert answer.accepted and len(plain_relay.inbox(reader)) == 1


def test_a_starttls_account_never_falls_back_to_plain_text(plain_relay: SmtpRelay) -> None:
    reader = a_mailbox()

    answer = send(a_provider(plain_relay, security="starttls"), an_email_delivery(reader))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "tls", False)
    assert plain_relay.inbox(reader) == []  # and the password never went over plain text


def test_markup_in_the_content_arrives_as_text_not_as_html(relay: SmtpRelay) -> None:
    reader = a_mailbox()
    title = '<script>alert("hi")</script> & <b>bold</b>'

    send(a_provider(relay), an_email_delivery(
        reader, title=title, body='<img src=x onerror="alert(1)">',
        deep_link='javascript:alert(1)'))

    markup = Markup(part(the_only(relay.inbox(reader)), "text/html"))
    assert {"script", "b", "img"}.isdisjoint(markup.tags)
    assert markup.text["h1"] == [title]
    assert markup.text["p"][0] == '<img src=x onerror="alert(1)">'
    assert not any(link.startswith("javascript:") for link in markup.links)


def test_the_message_id_is_the_attempt_id_at_the_senders_domain(relay: SmtpRelay) -> None:
    reader = a_mailbox()
    attempt = uuid.uuid4()

    send(a_provider(relay), an_email_delivery(reader, attempt_id=attempt))

    assert the_only(relay.inbox(reader))["Message-ID"] == f"<{attempt}@parley.test>"


def test_the_same_attempt_sent_twice_is_one_message_in_the_inbox(relay: SmtpRelay) -> None:
    reader = a_mailbox()
    attempt = uuid.uuid4()
    provider = a_provider(relay)

    first = send(provider, an_email_delivery(reader, attempt_id=attempt))
    again = send(provider, an_email_delivery(reader, attempt_id=attempt))

    assert first.provider_message_id == again.provider_message_id
    assert len([t for t in relay.transactions if reader in t.rcpt_tos]) == 2
    assert len(relay.inbox(reader)) == 1


def test_one_click_unsubscribe_headers_are_as_rfc_8058_requires(relay: SmtpRelay) -> None:
    reader = a_mailbox()

    send(a_provider(relay), an_email_delivery(
        reader, unsubscribe_url="https://parley.test/v1/unsubscribe/abc?c=mention"))

    message = the_only(relay.inbox(reader))
    assert message.get_all("List-Unsubscribe") == [
        "<https://parley.test/v1/unsubscribe/abc?c=mention>"]
    assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    assert "https://parley.test/v1/unsubscribe/abc?c=mention" in Markup(
        part(message, "text/html")).links


def test_no_unsubscribe_headers_without_an_unsubscribe_link_and_no_one_click_for_http(
        relay: SmtpRelay) -> None:
    without, over_http = a_mailbox(), a_mailbox()
    provider = a_provider(relay)

    send(provider, an_email_delivery(without, unsubscribe_url=None))
    send(provider, an_email_delivery(over_http, unsubscribe_url="http://127.0.0.1:8000/u/1"))

    plain = the_only(relay.inbox(without))
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None
    http_only = the_only(relay.inbox(over_http))
    assert http_only["List-Unsubscribe"] == "<http://127.0.0.1:8000/u/1>"
    assert http_only["List-Unsubscribe-Post"] is None  # one-click is for HTTPS URIs only


def a_provider_making_unsubscribe_links(relay: SmtpRelay) -> SmtpProvider:
    environment = ProviderEnvironment(public_url=PUBLIC_URL, unsubscribe_links=LINKS)
    return SmtpProvider.from_config(an_entry(relay), environment)


def test_mail_of_a_category_one_may_leave_carries_a_one_click_link_on_parleys_public_url(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()
    delivery = an_email_delivery(reader, unsubscribe_url=None)

    send(a_provider_making_unsubscribe_links(relay), delivery)

    message = the_only(relay.inbox(reader))
    [header] = message.get_all("List-Unsubscribe")
    url = header.removeprefix("<").removesuffix(">")
    assert header == f"<{url}>" and url.startswith(f"{PUBLIC_URL}/v1/notifications/unsubscribe/")
    assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    token = url.rpartition("/")[2]
    assert LINKS.read(token) == UnsubscribeClaim(delivery.recipient_id, "mention")
    assert reader not in url and reader.split("@")[0] not in url  # nothing personal in it
    assert url in Markup(part(message, "text/html")).links
    assert f"Unsubscribe: {url}" in part(message, "text/plain")


@pytest.mark.parametrize("category", ["security", "account", "payment"])
def test_transactional_or_critical_mail_carries_no_unsubscribe_link(
        relay: SmtpRelay, category: str) -> None:
    reader = a_mailbox()
    security_alert = replace(an_email_delivery(reader, unsubscribe_url=None),
                             category=category)

    send(a_provider_making_unsubscribe_links(relay), security_alert)

    message = the_only(relay.inbox(reader))
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in part(message, "text/plain")


def test_the_registry_builds_it_by_kind(relay: SmtpRelay) -> None:
    (provider,) = build_providers([an_entry(relay)], ProviderEnvironment())

    assert (provider.name, provider.channel, provider.kinds) == (
        "smtp-main", "email", frozenset({"email"}))
    assert send(provider, an_email_delivery(a_mailbox())).accepted  # type: ignore[arg-type]


# --- refusals and failures ---------------------------------------------------------------------


def test_wrong_credentials_answer_auth_and_are_not_retried(relay: SmtpRelay) -> None:
    reader = a_mailbox()

    answer = send(a_provider(relay, password="not-the-password"), an_email_delivery(reader))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "auth", False)
    assert relay.inbox(reader) == []


@pytest.mark.parametrize("reply", ["421 4.7.0 Too many connections, closing",
                                   "450 4.2.1 Mailbox busy", "451 4.3.0 Try again later",
                                   "452 4.3.1 Insufficient system storage"])
def test_a_4xx_reply_is_retryable_with_its_code(relay: SmtpRelay, reply: str) -> None:
    reader = a_mailbox()
    relay.answer_next(reply)

    answer = send(a_provider(relay), an_email_delivery(reader))

    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, reply[:3], True, False)
    assert relay.inbox(reader) == []


@pytest.mark.parametrize("reply", ["550 5.1.1 <{}>: Recipient address rejected: User unknown",
                                   "551 User not local", "553 Mailbox name not allowed"])
def test_an_unknown_recipient_is_permanent_and_the_address_is_gone(
        relay: SmtpRelay, reply: str) -> None:
    reader = a_mailbox()
    relay.answer_recipient(reader, reply.format(reader))

    answer = send(a_provider(relay), an_email_delivery(reader))

    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, reply[:3], False, True)
    assert reader not in answer.detail


@pytest.mark.parametrize(("reply", "retryable"), [("450 4.2.1 Mailbox busy, try later", True),
                                                  ("550 5.7.1 Relaying denied", False)])
def test_a_recipient_refused_for_another_reason_keeps_the_address(
        relay: SmtpRelay, reply: str, retryable: bool) -> None:
    reader = a_mailbox()
    relay.answer_recipient(reader, reply)

    answer = send(a_provider(relay), an_email_delivery(reader))

    assert (answer.code, answer.retryable, answer.address_gone) == (reply[:3], retryable, False)


@pytest.mark.parametrize("reply", ["550 5.7.1 Message rejected as spam",
                                   "550 Message content rejected"])
def test_a_550_refusing_the_message_itself_is_permanent_but_the_address_stays(
        relay: SmtpRelay, reply: str) -> None:
    relay.answer_next(reply)

    answer = send(a_provider(relay), an_email_delivery(a_mailbox()))

    assert (answer.code, answer.retryable, answer.address_gone) == ("550", False, False)


def test_a_connection_dropped_mid_transaction_is_retryable_and_the_retry_arrives_once(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()
    attempt = uuid.uuid4()
    provider = a_provider(relay)
    relay.drop_next()

    dropped = send(provider, an_email_delivery(reader, attempt_id=attempt))
    retried = send(provider, an_email_delivery(reader, attempt_id=attempt))

    assert (dropped.accepted, dropped.code, dropped.retryable) == (False, "connection", True)
    assert retried.accepted
    assert len(relay.inbox(reader)) == 1


def test_a_relay_that_is_not_listening_is_a_retryable_connection_failure(
        relay: SmtpRelay) -> None:
    answer = send(a_provider(relay, port=free_port()), an_email_delivery(a_mailbox()))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "connection", True)


def test_a_relay_slower_than_the_timeout_answers_timeout_in_bounded_time(
        relay: SmtpRelay) -> None:
    relay.delay_next(5.0)
    provider = a_provider(relay, timeout_seconds=0.5)

    started = time.monotonic()
    answer = send(provider, an_email_delivery(a_mailbox()))

    assert time.monotonic() - started < 2.0
    assert (answer.accepted, answer.code, answer.retryable) == (False, "timeout", True)


def test_a_relay_slow_at_every_step_still_answers_timeout_by_the_whole_sends_deadline(
        relay: SmtpRelay) -> None:
    relay.delay_next(0.5, every_step=True)  # each reply within 0.7 s, all of them not
    provider = a_provider(relay, timeout_seconds=0.7)

    started = time.monotonic()
    answer = send(provider, an_email_delivery(a_mailbox()))

    assert time.monotonic() - started < 1.4
    assert (answer.accepted, answer.code, answer.retryable) == (False, "timeout", True)


def test_a_slow_goodbye_after_the_message_was_taken_is_still_accepted(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()
    relay.delay_goodbyes(5.0)
    provider = a_provider(relay, timeout_seconds=0.7)

    started = time.monotonic()
    answer = send(provider, an_email_delivery(reader))

    assert time.monotonic() - started < 2.0
    assert answer.accepted and len(relay.inbox(reader)) == 1


def test_a_certificate_the_provider_does_not_trust_fails_as_tls_not_retried(
        relay: SmtpRelay) -> None:
    reader = a_mailbox()

    answer = send(a_provider(relay, ca_file=None), an_email_delivery(reader))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "tls", False)
    assert relay.inbox(reader) == []


def test_a_message_over_the_size_limit_is_refused_before_connecting(relay: SmtpRelay) -> None:
    connections = relay.connections
    provider = a_provider(relay, max_message_bytes=2_000)

    answer = send(provider, an_email_delivery(a_mailbox(), body="word " * 1_000))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "too_large", False)
    assert relay.connections == connections


def test_an_address_that_is_not_one_mailbox_is_refused_without_repeating_it(
        relay: SmtpRelay) -> None:
    connections = relay.connections
    smuggled = "ada@example.org, eve@example.org"

    answer = send(a_provider(relay), an_email_delivery(smuggled))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "invalid_address", False)
    assert "ada" not in answer.detail and relay.connections == connections


# --- secrets and personal data -----------------------------------------------------------------


def test_no_password_address_or_text_in_the_repr_or_logs_of_failing_sends(
        relay: SmtpRelay, caplog: pytest.LogCaptureFixture) -> None:
    reader = a_mailbox()
    secret_words = "the secret plans for Thursday"
    relay.answer_recipient(reader, f"550 5.1.1 <{reader}>: no such user here")
    good, bad_password = a_provider(relay), a_provider(relay, password="wrong-" + PASSWORD)

    with caplog.at_level(logging.DEBUG):
        answers = [send(provider, an_email_delivery(reader, title=secret_words,
                                                    body=secret_words))
                   for provider in (good, bad_password)]

    assert [a.code for a in answers] == ["550", "auth"]
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not aiosmtpd's
    assert any(r.name == "adapters.notifications.smtp_email" for r in ours)
    leaked = [PASSWORD, reader, reader.split("@")[0], secret_words]
    for text in [r.getMessage() + (r.exc_text or "") for r in ours] + [
            repr(good), repr(bad_password), *(a.detail for a in answers), *map(repr, answers)]:
        assert not [word for word in leaked if word in text], text


def test_a_bad_entry_is_refused_naming_the_key_and_never_the_password(tmp_path: Path) -> None:
    relay_entry = {"name": "smtp-main", "kind": "smtp", "host": "smtp.example.com",
                   "from_address": "notifications@parley.test"}
    environment = ProviderEnvironment()

    def refusal(**changes: Any) -> str:
        with pytest.raises(ValueError) as refused:
            SmtpProvider.from_config({**relay_entry, **changes}, environment)
        assert "hunter2" not in str(refused.value)
        return str(refused.value)

    assert "security" in refusal(security="none")  # plain SMTP only to 127.0.0.1
    assert "security" in refusal(security="ssl")
    assert "pasword" in refusal(username="u", pasword="hunter2")
    assert "username" in refusal(password="hunter2")
    assert "password_file" in refusal(username="u", password_file=str(tmp_path / "missing"))
    assert "from_address" in refusal(from_address="not an address")
    assert "timeout_seconds" in refusal(timeout_seconds=0)
    assert "max_message_bytes" in refusal(max_message_bytes=-1)
    assert "port" in refusal(port=70_000)


def test_the_password_may_come_from_a_file(relay: SmtpRelay, tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")

    answer = send(a_provider(relay, password=None, password_file=str(secret)),
                  an_email_delivery(a_mailbox()))

    assert answer.accepted


def test_the_engine_gives_email_providers_the_deployments_critical_categories(
        relay: SmtpRelay, tmp_path: Path) -> None:
    """PARLEY_NOTIFICATION_CRITICAL_CATEGORIES decides which mail carries no link: here
    invoices are critical and payment mail is not."""
    settings = embedded_settings(tmp_path).model_copy(update={
        "notification_providers": SecretStr(json.dumps([an_entry(relay)])),
        "notification_critical_categories": ["security", "invoice"],
        "public_url": PUBLIC_URL})
    [provider] = engine_providers(settings, b"k" * 32)
    assert isinstance(provider, SmtpProvider)
    reader = a_mailbox()
    for category in ("invoice", "payment"):
        send(provider, replace(an_email_delivery(reader, title=category, unsubscribe_url=None),
                               category=category))

    mail = {m["Subject"]: m for m in relay.inbox(reader)}
    assert mail["invoice"]["List-Unsubscribe"] is None
    assert mail["payment"]["List-Unsubscribe"].startswith(f"<{PUBLIC_URL}/v1/notifications/")
