"""The email a delivery becomes: multipart/alternative, a text part and an HTML part made
from the content with everything escaped, and the headers a mailbox and a reader use
(Message-ID from the attempt, RFC 8058 one-click unsubscribe, RFC 3834 Auto-Submitted); with
tracked links, each http(s) link of the content is sent as its tracked link (domain/
notifications/tracked_links.py; the unsubscribe link never is)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from email import policy
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from typing import Final
from urllib.parse import urlsplit

from commands.notifications.providers import Content, Delivery
from domain.notifications.tracked_links import TrackedLinks, tracks

UNSAFE_LINK_SCHEMES: Final = frozenset({"javascript", "vbscript", "data", "file"})


def compose_email(delivery: Delivery, *, sender: MailAddress, recipient: MailAddress,
                  message_id_domain: str, now: datetime,
                  unsubscribe_url: str | None = None,
                  tracked_links: TrackedLinks | None = None) -> EmailMessage:
    """The message a delivery becomes: text and HTML alternatives, and its headers; with
    `unsubscribe_url` (else the delivery's own), RFC 8058's two headers and a visible link;
    with `tracked_links`, its links as tracked links (not in transactional mail)."""
    content = delivery.content
    if tracked_links is not None and tracks(delivery.category):
        content = tracked_links.rewritten(content, delivery.notification_id, delivery.channel)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = " ".join(content.title.split())  # one line, whatever the title
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = now
    # the same for every attempt: a retry of a message the relay had taken is one message
    message["Message-ID"] = f"<{delivery.dedup_key}@{message_id_domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Parley-Notification-Id"] = str(delivery.notification_id)
    unsubscribe = unsubscribe_url or delivery.unsubscribe_url
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        if urlsplit(unsubscribe).scheme == "https":  # RFC 8058 one-click is for HTTPS only
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # quoted-printable: readable in the source, and what spam filters expect of text
    message.set_content(plain_text(content, unsubscribe), charset="utf-8",
                        cte="quoted-printable")
    html = html_text(content, unsubscribe) if content.html is None \
        else templated_html(content.html, unsubscribe)
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def plain_text(content: Content, unsubscribe_url: str | None) -> str:
    parts = [content.title, content.body.strip()]
    if content.deep_link:
        parts.append(content.deep_link)
    if unsubscribe_url:
        parts.append(f"Unsubscribe: {unsubscribe_url}")
    return "\n\n".join(part for part in parts if part) + "\n"


def html_text(content: Content, unsubscribe_url: str | None) -> str:
    """The HTML alternative: everything from the content is escaped, so it reads as text."""
    title = html.escape(content.title)
    paragraphs = [
        "<p>" + "<br>".join(html.escape(line) for line in paragraph.splitlines()) + "</p>"
        for paragraph in re.split(r"\n\s*\n", content.body.strip()) if paragraph.strip()
    ]
    link = content.deep_link
    if link and _safe_link(link):
        paragraphs.append(f'<p><a href="{html.escape(link, quote=True)}">Open in Parley</a></p>')
    if unsubscribe_url:
        paragraphs.append(f'<p><small><a href="{html.escape(unsubscribe_url, quote=True)}">'
                          "Unsubscribe</a></small></p>")
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
            + "\n".join(paragraphs) + "\n</body></html>\n")


def templated_html(document: str, unsubscribe_url: str | None) -> str:
    """A template's HTML part (autoescaped when it rendered), with the unsubscribe link
    added before </body> (or at the end)."""
    if not unsubscribe_url:
        return document
    link = (f'<p><small><a href="{html.escape(unsubscribe_url, quote=True)}">'
            "Unsubscribe</a></small></p>\n")
    at = document.lower().rfind("</body>")
    return document + link if at < 0 else document[:at] + link + document[at:]


def _safe_link(link: str) -> bool:
    scheme = urlsplit(link.strip()).scheme.lower()
    return bool(scheme) and scheme not in UNSAFE_LINK_SCHEMES
