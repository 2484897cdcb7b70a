"""Tracked links: the links a notification carries, as the Parley URLs an email sends instead,
so that following one is recorded (`Notification.Clicked`) before the reader is sent on.

A notification's links are, in this order and each once: its deep link (if it has a scheme
and not an unsafe one), then every http(s) URL of its body (the text part), then every
http(s) `href` of its HTML part (a template's), at most `MAX_LINKS`, each at most
`MAX_LINK_CHARS` long. The list is made from the content the notification recorded for the
channel (its template's rendering there, or its own), so the aggregate resolves an index to
the same link the email carried: a token names an index, never a URL, and can only ever lead
to a link that was in the notification (no open redirect). Only http(s) links are rewritten
and redirected to; a custom-scheme deep link stays as it was (its click is not seen). Mail of
a transactional category (security alerts, account mail such as verification links: what
carries no unsubscribe link) is never rewritten: it must reach the user as sent, and its
links carry secrets of their own.

A token is `k1.<claim>.<mac>`, both parts base64url: the claim is the notification id, the
link's index and the channel (nothing personal), the MAC their HMAC-SHA256 under the server's
email-link key with a purpose of its own (`_PURPOSE`: an unsubscribe token is never a tracked
link, nor the other way). It never expires: an old email's links still work. A tampered,
malformed or unknown token is refused with the one error an unknown link gets.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import urlsplit
from uuid import UUID

from domain.errors import InvalidCommand, NotFound
from domain.notifications.content import Content
from domain.notifications.token_text import decode, encode
from domain.notifications.unsubscribe import may_unsubscribe

VERSION: Final = "k1"
LINKS_PATH: Final = "/v1/notifications/links"  # api/notifications/links.py
MAX_LINKS: Final = 50  # per notification and channel; links after these are left as they are
MAX_LINK_CHARS: Final = 2000  # longer ones are left as they are (a Location header's sane size)
# Following one link again within this long records nothing (mail scanners, which fetch every
# link of a message, and double clicks); the reader is sent on all the same
REPEAT_SECONDS: Final = 60
MAX_CLICKS: Final = 100  # recorded per notification, at most: its history stays bounded
UNSAFE_SCHEMES: Final = frozenset({"javascript", "vbscript", "data", "file"})
WEB_SCHEMES: Final = frozenset({"http", "https"})
TRACKED_LINK: Final = "tracked_link"  # Clicked.source: an email's rewritten link
IN_APP_CLICK: Final = "in_app"  # Clicked.source: the recipient's app said so
_PURPOSE: Final = b"parley/tracked-link/v1|"
_ID_BYTES: Final = 16
_MAX_CHANNEL_BYTES: Final = 16
# an http(s) URL in text: up to whitespace, quotes or angle brackets; trailing punctuation of
# the sentence around it is not part of it
_TEXT_URL: Final = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
_TRAILING: Final = ".,;:!?'\""
# an <a> or <area> start tag, then its quoted href; each bounded, so no markup (an admin's
# template) makes the search quadratic
_TAG_START: Final = re.compile(r"<(?:a|area)\b", re.IGNORECASE)
_LONGEST_TAG: Final = 4 * MAX_LINK_CHARS
_HREF: Final = re.compile(r"""(?<![\w-])(href\s*=\s*)(?:"([^"]*)"|'([^']*)')""",
                          re.IGNORECASE)


class TrackedLinkNotFound(NotFound):
    """A tracked-link token this server did not issue (forged, tampered with, malformed), or
    naming a link its notification does not have: answered as an unknown link."""


class LinkNotInNotification(InvalidCommand):
    """The recipient named a link index their notification does not have."""


def unknown_link() -> TrackedLinkNotFound:
    return TrackedLinkNotFound("token", "no such link")


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token names: a link of a notification, as sent on a channel."""

    notification_id: UUID
    channel: str
    index: int


@dataclass(frozen=True)
class TrackedLinks:
    """Issues and reads tracked-link tokens under one key (never in a repr), and makes the
    links under Parley's public URL."""

    key: bytes = field(repr=False)
    public_url: str = "http://127.0.0.1:8000"

    def token(self, notification_id: UUID, channel: str, index: int) -> str:
        claim = notification_id.bytes + bytes([index]) + channel.encode()
        return f"{VERSION}.{encode(claim)}.{encode(self._mac(claim))}"

    def link(self, notification_id: UUID, channel: str, index: int) -> str:
        return (f"{self.public_url.rstrip('/')}{LINKS_PATH}/"
                f"{self.token(notification_id, channel, index)}")

    def read(self, token: str) -> LinkClaim:
        """The claim of a token this key issued; anything else the one error."""
        version, _, rest = token.partition(".")
        encoded_claim, _, encoded_mac = rest.partition(".")
        if version != VERSION:
            raise unknown_link()
        claim, mac = decode(encoded_claim), decode(encoded_mac)
        channel = claim[_ID_BYTES + 1:]
        if (not hmac.compare_digest(mac, self._mac(claim))
                or not 0 < len(channel) <= _MAX_CHANNEL_BYTES or not channel.isascii()):
            raise unknown_link()
        return LinkClaim(UUID(bytes=claim[:_ID_BYTES]), channel.decode(), claim[_ID_BYTES])

    def _mac(self, claim: bytes) -> bytes:
        return hmac.new(self.key, _PURPOSE + claim, hashlib.sha256).digest()

    def rewritten(self, content: Content, notification_id: UUID, channel: str) -> Content:
        """`content` with each of its http(s) links replaced by its tracked link."""
        return with_links(content, lambda index: self.link(notification_id, channel, index))


def tracks(category: str) -> bool:
    """Whether email of this category is sent with tracked links."""
    return may_unsubscribe(category)


def links_of(content: Content) -> tuple[str, ...]:
    """The notification's links on a channel, in the order indexes name them."""
    found: dict[str, None] = {}
    if content.deep_link and _safe(content.deep_link):
        found[content.deep_link] = None
    for match in _TEXT_URL.finditer(content.body):
        found.setdefault(_text_url(match.group(0)), None)
    markup = content.html or ""
    for begin, end in _tags(markup):
        attribute = _HREF.search(markup, begin, end)
        target = "" if attribute is None else _href(attribute)
        if _web(target):
            found.setdefault(target, None)
    kept = [link for link in found if len(link) <= MAX_LINK_CHARS]
    return tuple(kept[:MAX_LINKS])


def web_link(link: str) -> bool:
    """Whether a link may be redirected to (and so is rewritten): http(s) only."""
    return _web(link)


def with_links(content: Content, tracked: Callable[[int], str]) -> Content:
    """`content` with every occurrence of each of its http(s) links (deep link, body URLs,
    HTML hrefs) replaced by `tracked(index)`; everything else as it was."""
    index = {link: i for i, link in enumerate(links_of(content)) if _web(link)}
    if not index:
        return content

    def in_text(match: re.Match[str]) -> str:
        url = _text_url(match.group(0))
        at = index.get(url)
        return match.group(0) if at is None else tracked(at) + match.group(0)[len(url):]

    deep_link = content.deep_link
    if deep_link is not None and deep_link in index:
        deep_link = tracked(index[deep_link])
    return replace(content, body=_TEXT_URL.sub(in_text, content.body), deep_link=deep_link,
                   html=None if content.html is None else _with_hrefs(content.html, index, tracked))


def _tags(markup: str) -> Iterator[tuple[int, int]]:
    """Where each <a> or <area> start tag is (begin, end), in one pass: the next ">" is looked
    for once per run of tags before it, so no markup makes this quadratic."""
    closing, last_end = -1, 0
    for opening in _TAG_START.finditer(markup):
        begin = opening.start()
        if begin < last_end:
            continue
        if closing < begin:
            closing = markup.find(">", begin)
            if closing < 0:
                return
        if closing - begin <= _LONGEST_TAG:
            last_end = closing + 1
            yield begin, last_end


def _with_hrefs(markup: str, index: dict[str, int], tracked: Callable[[int], str]) -> str:
    kept, at = [], 0
    for begin, end in _tags(markup):
        attribute = _HREF.search(markup, begin, end)
        link = None if attribute is None else index.get(_href(attribute))
        if attribute is None or link is None:
            continue
        quote = '"' if attribute.group(2) is not None else "'"
        kept += [markup[at:attribute.start()], attribute.group(1), quote,
                 html.escape(tracked(link)), quote]
        at = attribute.end()
    return "".join(kept) + markup[at:]


def _href(match: re.Match[str]) -> str:
    """The link an href's (double- or single-quoted) value stands for."""
    value = match.group(2) if match.group(2) is not None else match.group(3)
    return html.unescape(value).strip()


def _text_url(found: str) -> str:
    """A URL found in text without the sentence's punctuation after it: a closing bracket
    is the URL's only while it closes one the URL opened."""
    url = found.rstrip(_TRAILING)
    for closing, opening in ((")", "("), ("]", "[")):
        unmatched = url.count(closing) - url.count(opening)
        while unmatched > 0 and url.endswith(closing):
            url, unmatched = url[:-1].rstrip(_TRAILING), unmatched - 1
    return url


def _scheme(link: str) -> str:
    try:
        return urlsplit(link.strip()).scheme.lower()
    except ValueError:
        return ""


def _safe(link: str) -> bool:
    scheme = _scheme(link)
    return bool(scheme) and scheme not in UNSAFE_SCHEMES


def _web(link: str) -> bool:
    if _scheme(link) not in WEB_SCHEMES:
        return False
    try:
        return bool(urlsplit(link).hostname) and not any(c.isspace() for c in link)
    except ValueError:
        return False
