"""An email rendered from a template goes as multipart/alternative: the template's text part
and its autoescaped HTML part, with the unsubscribe link in both."""

from __future__ import annotations

import uuid
from email.headerregistry import Address as MailAddress

from adapters.notifications.email_message import compose_email
from commands.notifications.providers import Delivery
from domain.notifications.addresses import Address
from domain.notifications.rendering import TemplateParts, render
from domain.notifications.templates import TemplateRules, rendered_content
from tests.builders import now


def test_a_templated_email_carries_its_text_and_its_escaped_html_as_alternatives() -> None:
    parts = render(TemplateParts("Paid {{ amount }}", "We got {{ amount }}.",
                                 "<html><body><p>We got <b>{{ amount }}</b></p></body></html>"),
                   TemplateRules(frozenset({"amount"}), {}).sample_data() | {"amount": "<9>"})
    content = rendered_content(parts, "email", {}, None)
    delivery = Delivery(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "email", "normal", "payment",
                        Address("email", "bo@example.com", "cp1"), content)
    message = compose_email(delivery, sender=MailAddress("Parley", "no-reply", "example.com"),
                            recipient=MailAddress("", "bo", "example.com"),
                            message_id_domain="example.com", now=now(),
                            unsubscribe_url="https://parley.example/v1/u/t")
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert "We got <9>." in text.get_content() and "Unsubscribe" in text.get_content()
    body = html.get_content()
    assert "<b>&lt;9&gt;</b>" in body and "<9>" not in body
    assert body.index("Unsubscribe") < body.index("</body>")
    assert message["Subject"] == "Paid <9>"
