"""One-click unsubscribe (RFC 8058) end to end on the embedded default, in process: an email
of a category one may leave reaches a local SMTP relay with its `List-Unsubscribe` link on
Parley's public URL; POSTing that link as a mail client does (`List-Unsubscribe=One-Click`,
form-encoded, no credentials) makes the next notification of that category skip email as
"unsubscribed" while another category still reaches the mailbox. A forged link is 404; a
GET (a mail scanner, a reader's click) unsubscribes nobody."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest

from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.notifications import Notification
from domain.notifications.unsubscribe import UnsubscribeLinks
from tests.builders import Person
from tests.e2e.notifications.in_process import (
    InProcess,
    embedded,
    in_process,
    mail_titled,
    plain_smtp_provider,
)
from tests.providers.smtp import SmtpRelay

PUBLIC_URL = "https://parley.test"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@dataclass
class Mailer(InProcess):
    relay: SmtpRelay
    person: Person
    mailbox: str

    def notify(self, category: str, title: str) -> str:
        response = self.http.post(
            "/v1/notifications", headers=self.service, json={
                "recipients": [self.person.user_id], "category": category,
                "priority": "normal", "plan": {"channels": ["email", "in_app"]},
                "content": {"title": title, "body": "Something happened."}})
        assert response.status_code == 202, response.text
        nid: str = response.json()["notifications"][0]["notification_id"]
        return nid

    def mail_titled(self, title: str) -> EmailMessage:
        return mail_titled(self.relay, self.mailbox, title)

    def skipped(self, notification_id: str) -> list[list[str]]:
        [routed] = [e for e in self.parley.event_log.events.get(uuid.UUID(notification_id))
                    if isinstance(e, Notification.Routed)]
        return routed.skipped

    def opt_outs_recorded(self) -> list[str]:
        book = contact_points_id(uuid.UUID(self.person.user_id))
        return [e.category for e in self.parley.event_log.events.get(book)
                if isinstance(e, ContactPoints.EmailCategoryUnsubscribed)]


@pytest.fixture(scope="module")
def mailer(tmp_path_factory: pytest.TempPathFactory,
           plain_relay: SmtpRelay) -> Iterator[Mailer]:
    settings = embedded(tmp_path_factory.mktemp("unsubscribe"),
                        [plain_smtp_provider(plain_relay)], public_url=PUBLIC_URL,
                        notification_timer_every_seconds=0.05)
    with in_process(settings, InProcess) as running:
        person = running.client.register("Reader")
        yield running.extended(Mailer, relay=plain_relay, person=person,
                               mailbox=running.add_verified_email(person))


def test_posting_the_one_click_link_stops_that_categorys_email_and_no_other(
        mailer: Mailer) -> None:
    mailer.notify("mention", "Ada mentioned you")
    mention = mailer.mail_titled("Ada mentioned you")
    assert mention["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mention["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert link.startswith(f"{PUBLIC_URL}/v1/notifications/unsubscribe/")

    # a mail client may post it twice, URL-encoded or multipart: the same answer, one event
    for form in ({"data": ONE_CLICK}, {"files": {"List-Unsubscribe": (None, "One-Click")}}):
        answer = mailer.http.post(urlsplit(link).path, **form)
        assert answer.status_code == 200, answer.text
        assert answer.json() | {"position": 0} == {
            "category": "mention", "unsubscribed": True, "position": 0}
    assert mailer.opt_outs_recorded() == ["mention"]

    skipped = mailer.notify("mention", "Ada mentioned you again")
    mailer.notify("friend_request", "Bob wants to be friends")

    mailer.mail_titled("Bob wants to be friends")
    assert mailer.skipped(skipped) == [["email", "reachability: unsubscribed"]]
    assert not [m for m in mailer.relay.inbox(mailer.mailbox)
                if m["Subject"] == "Ada mentioned you again"]


def test_a_forged_link_is_not_found_as_problem_json(mailer: Mailer) -> None:
    mailer.notify("friend_request", "Cy wants to be friends")
    link = mailer.mail_titled("Cy wants to be friends")["List-Unsubscribe"].strip("<>")
    version, claim, mac = urlsplit(link).path.rpartition("/")[2].split(".")
    forged = f"{version}.{claim}.{mac[::-1]}"

    for method in ("POST", "GET"):
        answer = mailer.http.request(method, f"/v1/notifications/unsubscribe/{forged}",
                                     data=ONE_CLICK if method == "POST" else None)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    assert "friend_request" not in mailer.opt_outs_recorded()


def test_opening_the_link_shows_a_button_and_unsubscribes_nobody(mailer: Mailer) -> None:
    mailer.notify("marketing", "This week at Parley")
    link = mailer.mail_titled("This week at Parley")["List-Unsubscribe"].strip("<>")

    page = mailer.http.get(urlsplit(link).path)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert "marketing" not in mailer.opt_outs_recorded()


def test_a_payment_confirmation_critical_by_default_offers_no_unsubscribing(
        mailer: Mailer) -> None:
    mailer.notify("payment", "Your invoice")

    invoice = mailer.mail_titled("Your invoice")

    assert invoice["List-Unsubscribe"] is None and invoice["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in invoice.as_string()


def test_a_critical_categorys_link_mailed_before_is_answered_and_changes_nothing(
        mailer: Mailer) -> None:
    """A link for payment mail, as a server sent before payment was made critical."""
    user = uuid.UUID(mailer.person.user_id)
    token = UnsubscribeLinks(mailer.parley.unsubscribe_key, PUBLIC_URL,
                             frozenset()).token(user, "payment")
    path = f"/v1/notifications/unsubscribe/{token}"

    for _ in range(2):  # a mail client's one-click POST, and a retry: answered alike
        answer = mailer.http.post(path, data=ONE_CLICK)
        assert answer.status_code == 200, answer.text
        assert answer.json() | {"position": 0} == {
            "category": "payment", "unsubscribed": False, "position": 0}
    page = mailer.http.get(path)
    assert page.status_code == 200 and "<form" not in page.text
    assert "cannot be unsubscribed from" in page.text

    assert "payment" not in mailer.opt_outs_recorded()
    kept = mailer.notify("payment", "Your receipt")
    mailer.mail_titled("Your receipt")
    assert mailer.skipped(kept) == []


def test_a_security_alert_offers_no_unsubscribing(mailer: Mailer) -> None:
    mailer.notify("security", "New sign-in")

    alert = mailer.mail_titled("New sign-in")

    assert alert["List-Unsubscribe"] is None and alert["List-Unsubscribe-Post"] is None
