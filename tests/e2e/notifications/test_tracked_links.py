"""Tracked links and in-app clicks end to end on the embedded default, in process: an email
reaches a local SMTP relay with each of its http(s) links (the deep link, the body's, a
template's HTML hrefs) as a tracked link under Parley's public URL; following one redirects to
the original, sends no Referer, and is recorded once however often a mail scanner fetches it
within the minute, and the analytics report counts one click on email; the recipient's app
says a notification was tapped (a stranger learns nothing); forged or garbled tokens are 404
problems, identical to an unknown one, and record nothing; with tracking off, an email carries
its links as they are."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest

from commands.identity.roles import GrantRole
from commands.notifications.providers import Delivery
from domain.notifications.addresses import Address
from domain.notifications.content import Content
from domain.notifications.notifications import Notification
from domain.notifications.tracked_links import LINKS_PATH
from parley.notification_engine import build_providers
from tests.builders import ParleyClient, Person, a_cause, answer_of
from tests.e2e.notifications.in_process import (
    InProcess,
    embedded,
    eventually,
    in_process,
    mail_titled,
    plain_smtp_provider,
)
from tests.providers.smtp import SmtpRelay

PUBLIC_URL = "https://parley.test"
ORDER = "https://shop.example.com/orders/1042?ref=mail&x=1"
HELP = "https://help.example.com/returns"
SALE = "https://shop.example.com/sale?season=winter&size=m"
TRACKED = re.compile(re.escape(PUBLIC_URL + LINKS_PATH) + r"/k1\.[\w-]+\.[\w-]+")


@dataclass
class Mailer(InProcess):
    relay: SmtpRelay
    person: Person
    admin: Person
    mailbox: str

    def notify(self, title: str, channels: list[str], **content: Any) -> str:
        response = self.http.post(
            "/v1/notifications", headers=self.service, json={
                "recipients": [self.person.user_id], "category": content.pop("category",
                                                                             "system"),
                "plan": {"channels": channels},
                **({"content": {"title": title, **content}} if "body" in content else content)})
        assert response.status_code == 202, response.text
        nid: str = response.json()["notifications"][0]["notification_id"]
        return nid

    def mail_titled(self, title: str) -> EmailMessage:
        return mail_titled(self.relay, self.mailbox, title)

    def clicks(self, notification_id: str) -> list[Notification.Clicked]:
        return [e for e in self.parley.event_log.events.get(uuid.UUID(notification_id))
                if isinstance(e, Notification.Clicked)]


def parts(mail: EmailMessage) -> tuple[str, str]:
    text, markup = mail.iter_parts()
    return text.get_content(), markup.get_content()


@pytest.fixture(scope="module")
def mailer(tmp_path_factory: pytest.TempPathFactory,
           plain_relay: SmtpRelay) -> Iterator[Mailer]:
    settings = embedded(tmp_path_factory.mktemp("tracked-links"),
                        [plain_smtp_provider(plain_relay)], public_url=PUBLIC_URL,
                        consistency_wait_seconds=10)
    with in_process(settings, InProcess, follow_redirects=False) as running:
        person, admin = running.client.register("Reader"), running.client.register(
            "Grace Operator")
        running.parley.writer.execute(GrantRole(uuid.UUID(admin.user_id), "admin", "tests"),
                                      a_cause())
        yield running.extended(Mailer, relay=plain_relay, person=person, admin=admin,
                               mailbox=running.add_verified_email(person))


def test_an_emails_links_are_tracked_links_that_redirect_and_count_one_click(
        mailer: Mailer) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    nid = mailer.notify("Order shipped", ["email"], body=f"Track it: {ORDER}.",
                        deep_link=HELP)
    text, markup = parts(mailer.mail_titled("Order shipped"))

    links = TRACKED.findall(text)
    assert len(links) == 2 and set(TRACKED.findall(markup)) == set(links)
    assert ORDER not in text + markup and HELP not in text + markup
    assert f"Unsubscribe: {PUBLIC_URL}/v1/notifications/unsubscribe/u1." in text  # as it is
    order = next(link for link in links if f"Track it: {link}." in text)

    followed = [mailer.http.get(urlsplit(order).path) for _ in range(3)]  # a scanner, a reader

    assert [(f.status_code, f.headers["location"]) for f in followed] == [(302, ORDER)] * 3
    assert followed[0].headers["referrer-policy"] == "no-referrer"
    assert followed[0].headers["cache-control"] == "no-store"
    assert [(c.channel, c.link_index, c.link, c.source) for c in mailer.clicks(nid)] == [
        ("email", 1, ORDER, "tracked_link")]

    window = {"from": since.isoformat(),
              "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
              "group_by": "category,channel"}

    def counted() -> dict[str, Any] | None:
        answer = mailer.http.get("/v1/admin/notifications/analytics", params=window,
                                 headers=mailer.admin.auth)
        assert answer.status_code == 200, answer.text
        return next((g for g in answer.json()["groups"]
                     if g["channel"] == "email" and g["clicked"]), None)

    email = eventually(counted)
    assert (email["notifications"], email["clicked"]) == (1, 1)
    assert email["statuses"]["accepted"] == 1 and email["rates"]["clicked"] == 1.0
    trace = mailer.http.get(f"/v1/notifications/{nid}/trace", headers=mailer.person.auth)
    assert trace.status_code == 200, trace.text
    assert "link 1 clicked on email (said by a tracked link)" in [
        s["outcome"] for s in trace.json()["steps"]]


def test_a_templates_html_links_are_tracked_and_lead_to_the_link_it_rendered(
        mailer: Mailer) -> None:
    template = {"category": "marketing", "channel": "email", "title": "Winter sale",
                "body": "Hi {{ display_name }}, see {{ link }}",
                "html": '<html><body><p><a href="{{ link }}">The sale</a></p></body></html>'}
    made = mailer.http.post("/v1/admin/notification-templates", json=template,
                            headers=mailer.admin.auth)
    assert made.status_code == 201, made.text

    nid = mailer.notify("ignored", ["email"], category="marketing", template_variables={
        "display_name": "Bo", "link": SALE})
    text, markup = parts(mailer.mail_titled("Winter sale"))

    [in_html] = re.findall(r'<a href="([^"]+)">The sale</a>', markup)
    assert TRACKED.fullmatch(in_html) and TRACKED.findall(text) == [in_html]
    assert "/v1/notifications/unsubscribe/" in markup  # kept as it is, beside the tracked one
    answer = mailer.http.get(urlsplit(in_html).path)
    assert (answer.status_code, answer.headers["location"]) == (302, SALE)
    assert [c.link for c in mailer.clicks(nid)] == [SALE]


def test_the_recipients_app_says_a_notification_was_tapped_and_a_stranger_learns_nothing(
        mailer: Mailer) -> None:
    nid = mailer.notify("Your export", ["in_app"], body=f"Download it: {ORDER}",
                        deep_link="parley://exports/7")
    url = f"/v1/notifications/{nid}/click"
    stranger = ParleyClient(mailer.http).register("Eve")

    tapped = eventually(lambda: (r := mailer.http.post(url, headers=mailer.person.auth))
                        .status_code == 200 and r)
    link = mailer.http.post(url, json={"link": 1}, headers=mailer.person.auth)
    again = mailer.http.post(url, json={"link": 1}, headers=mailer.person.auth)
    missing = mailer.http.post(url, json={"link": 2}, headers=mailer.person.auth)
    theirs = mailer.http.post(url, json={"link": 0}, headers=stranger.auth)
    random = mailer.http.post(f"/v1/notifications/{uuid.uuid4()}/click", json={"link": 0},
                              headers=stranger.auth)

    assert tapped.json() | {"position": 0} == {"link": None, "recorded": True, "position": 0}
    assert link.json()["link"] == ORDER and link.json()["recorded"] is True
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert missing.status_code == 422 and missing.headers["content-type"] == \
        "application/problem+json"
    assert theirs.status_code == 404 and answer_of(theirs) == answer_of(random)
    assert [(c.channel, c.link_index, c.source) for c in mailer.clicks(nid)] == [
        ("in_app", None, "in_app"), ("in_app", 1, "in_app")]


def test_forged_and_garbled_tokens_are_unknown_links_and_record_nothing(
        mailer: Mailer) -> None:
    nid = mailer.notify("Receipt", ["email"], body=f"Your receipt: {ORDER}")
    [link] = TRACKED.findall(parts(mailer.mail_titled("Receipt"))[0])
    version, claim, mac = urlsplit(link).path.rpartition("/")[2].split(".")
    unknown = mailer.http.get(f"{LINKS_PATH}/{uuid.uuid4()}")

    for token in (f"{version}.{claim}.{mac[::-1]}", f"{version}.{claim[:-2]}AA.{mac}",
                  f"{version}.{claim}", "k1..", "%00", "x" * 3000):
        answer = mailer.http.get(f"{LINKS_PATH}/{token}")
        assert answer.status_code == 404, token
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer_of(answer) == answer_of(unknown)
    assert mailer.clicks(nid) == []


def test_with_tracking_off_an_email_carries_its_links_as_they_are(
        mailer: Mailer, plain_relay: SmtpRelay) -> None:
    settings = embedded(mailer.parley.settings.data_dir, [plain_smtp_provider(plain_relay)],
                        public_url=PUBLIC_URL, notification_link_tracking=False)
    [provider] = build_providers(settings, mailer.parley.unsubscribe_key)
    content = Content("Untracked", f"Track it: {ORDER}", deep_link=HELP)
    delivery = Delivery(uuid.uuid4(), uuid.uuid4(), uuid.UUID(mailer.person.user_id), "email",
                        "normal", "system", Address("email", mailer.mailbox, "cp1"), content)

    answer = asyncio.run(provider.send(delivery))

    assert answer.accepted, answer
    text, markup = parts(mailer.mail_titled("Untracked"))
    assert f"Track it: {ORDER}" in text and HELP in text and f'href="{HELP}"' in markup
    assert not TRACKED.findall(text + markup)
