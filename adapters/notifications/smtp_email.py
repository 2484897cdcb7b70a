"""Email over SMTP (aiosmtplib): one relay account, one connection per message.

The message is multipart/alternative (text and escaped HTML), its `Message-ID` made from the
attempt id (so an attempt sent twice is one message to a reader whose mail client or mailbox
de-duplicates by Message-ID), with RFC 8058 one-click `List-Unsubscribe` headers in mail of a
category one may unsubscribe from (the link is made from the recipient and the category by
the deployment's `UnsubscribeLinks`; transactional mail, such as security alerts and
verification links, has none). DKIM signing, which RFC 8058 asks to cover those headers, is
the relay's: an MTA or email provider signs for the sender's domain with its own key. Replies
map to answers: 250 accepted; 4xx retryable; 5xx not (a mailbox the relay says does not exist
is `address_gone`); a dropped connection or a timeout retryable; bad credentials, a TLS failure
or an oversized message not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.headerregistry import Address as MailAddress
from pathlib import Path
from typing import Any, Final, Self

import aiosmtplib

from adapters.notifications.email_message import compose_email
from adapters.notifications.registry import ProviderEnvironment
from commands.notifications.providers import Delivery, ProviderAnswer
from domain.notifications.channels import EMAIL, EMAIL_ADDRESS
from domain.notifications.tracked_links import TrackedLinks
from domain.notifications.unsubscribe import UnsubscribeLinks

logger = logging.getLogger(__name__)

SECURITIES: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_MAX_MESSAGE_BYTES: Final = 10 * 1024 * 1024
ENTRY_KEYS: Final = frozenset({
    "name", "kind", "host", "port", "username", "password", "password_file", "security",
    "from_address", "from_name", "timeout_seconds", "ca_file", "max_message_bytes",
    "local_hostname",
})
# Enhanced status codes (RFC 3463) saying the recipient's mailbox or domain does not exist.
GONE_STATUSES: Final = frozenset({"5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})
GONE_REPLIES: Final = frozenset({550, 551, 553})  # at RCPT, without an enhanced status code
DETAIL_LENGTH: Final = 200
QUIT_SECONDS: Final = 1.0  # how long a taken message waits for the relay's goodbye


class SmtpProvider:
    """One SMTP relay account (`kind: "smtp"`); reaches email addresses."""

    def __init__(self, *, name: str, host: str, port: int, security: str,
                 sender: MailAddress, username: str | None = None,
                 password: str | None = None, timeout_seconds: float = 10.0,
                 tls_context: ssl.SSLContext | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 local_hostname: str | None = None,
                 unsubscribe_links: UnsubscribeLinks | None = None,
                 tracked_links: TrackedLinks | None = None) -> None:
        self._name = name
        self._host = host
        self._port = port
        self._security = security
        self._sender = sender
        self._username = username
        self._password = password
        self._timeout = timeout_seconds
        self._tls_context = tls_context
        self._max_message_bytes = max_message_bytes
        self._local_hostname = local_hostname
        self._message_id_domain = sender.domain.encode("idna").decode("ascii")
        self._unsubscribe_links = unsubscribe_links
        self._tracked_links = tracked_links

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment) -> Self:
        """A provider from its PARLEY_NOTIFICATION_PROVIDERS entry; a ValueError names a bad key
        (never its value when the value is a secret)."""
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            raise ValueError(f"smtp provider: unknown key {unknown[0]!r}")
        name = _text(entry, "name")
        host = _text(entry, "host")
        security = entry.get("security", "starttls")
        if security not in SECURITIES:
            raise ValueError(f"smtp provider {name!r}: security must be one of "
                             f"{', '.join(SECURITIES)}")
        if security == "none" and host != "127.0.0.1":
            raise ValueError(f"smtp provider {name!r}: security 'none' only for host 127.0.0.1")
        port = entry.get("port", DEFAULT_PORTS[security])
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"smtp provider {name!r}: port must be a TCP port number")
        username, password = _credentials(entry, name)
        return cls(
            name=name, host=host, port=port, security=security,
            sender=_sender(entry, name), username=username, password=password,
            timeout_seconds=_positive(entry, "timeout_seconds", environment.timeout_seconds,
                                      name),
            tls_context=_tls_context(entry, name) if security != "none" else None,
            max_message_bytes=int(_positive(entry, "max_message_bytes",
                                            DEFAULT_MAX_MESSAGE_BYTES, name, integer=True)),
            local_hostname=_optional_text(entry, "local_hostname"),
            unsubscribe_links=environment.unsubscribe_links,
            tracked_links=environment.tracked_links,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel(self) -> str:
        return EMAIL

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({EMAIL_ADDRESS})

    def __repr__(self) -> str:
        return (f"SmtpProvider(name={self._name!r}, host={self._host!r}, port={self._port}, "
                f"security={self._security!r})")

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        if delivery.address.kind != EMAIL_ADDRESS:
            raise ValueError(f"smtp provider {self._name!r} reaches email addresses, "
                             f"not {delivery.address.kind!r}")
        answer = await self._send(delivery)
        if not answer.accepted:
            # a retryable refusal is routine (greylisting, a busy relay); a permanent one is not
            logger.log(logging.INFO if answer.retryable else logging.WARNING,
                       "smtp provider %s: attempt %s of notification %s not sent: %s (%s)",
                       self._name, delivery.attempt_id, delivery.notification_id,
                       answer.code, "retryable" if answer.retryable else "permanent")
        return answer

    def _unsubscribe_url(self, delivery: Delivery) -> str | None:
        """The delivery's own link if it has one; else the deployment's for its recipient and
        category (None for transactional mail)."""
        if delivery.unsubscribe_url is not None or self._unsubscribe_links is None:
            return delivery.unsubscribe_url
        return self._unsubscribe_links.link(delivery.recipient_id, delivery.category)

    async def aclose(self) -> None:
        """Nothing to close: each message has its own connection."""

    async def _send(self, delivery: Delivery) -> ProviderAnswer:
        try:
            recipient = MailAddress(addr_spec=delivery.address.value)
            message = compose_email(delivery, sender=self._sender, recipient=recipient,
                                    message_id_domain=self._message_id_domain,
                                    now=datetime.now(UTC),
                                    unsubscribe_url=self._unsubscribe_url(delivery),
                                    tracked_links=self._tracked_links)
            size = len(message.as_bytes(policy=policy.SMTP))
        except (ValueError, IndexError, email_errors.MessageError):
            # the library's message repeats the address: not passed on
            return ProviderAnswer.failed("invalid_address", retryable=False,
                                         detail="not a deliverable email address")
        if size > self._max_message_bytes:
            return ProviderAnswer.failed(
                "too_large", retryable=False,
                detail=f"{size} bytes; this relay takes at most {self._max_message_bytes}")
        client = aiosmtplib.SMTP(
            hostname=self._host, port=self._port, username=self._username,
            password=self._password, timeout=self._timeout,
            use_tls=self._security == "tls", start_tls=self._security == "starttls",
            tls_context=self._tls_context, local_hostname=self._local_hostname)
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    await client.connect()
                    await client.send_message(message, sender=self._sender.addr_spec,
                                              recipients=[recipient.addr_spec])
            except TimeoutError:  # the whole send's deadline, or one command's (aiosmtplib's)
                return ProviderAnswer.failed("timeout", retryable=True,
                                             detail=f"no answer within {self._timeout:g} s")
            except (aiosmtplib.SMTPException, OSError) as error:
                return answer_for(error, recipient.addr_spec)
            # 250 after DATA: the relay has it. A slow or failed goodbye changes nothing, and
            # must not turn the answer into a timeout (a retry would send it again)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                async with asyncio.timeout(min(QUIT_SECONDS, self._timeout)):
                    await client.quit()
        finally:
            client.close()
        return ProviderAnswer.accepted_as(str(message["Message-ID"]))


def answer_for(error: Exception, recipient: str) -> ProviderAnswer:
    """What an SMTP exchange that did not end in 250 says about the delivery."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        refusal = error.recipients[0]
        return _reply_answer(refusal.code, refusal.message, recipient, at_recipient=True)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return ProviderAnswer.failed("auth", retryable=400 <= error.code < 500,
                                     detail=_detail(error.message, recipient))
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _reply_answer(error.code, error.message, recipient,
                             at_recipient=isinstance(error, aiosmtplib.SMTPRecipientRefused))
    if isinstance(error, ssl.SSLError) or isinstance(error.__cause__, ssl.SSLError):
        return ProviderAnswer.failed("tls", retryable=False, detail="TLS handshake failed")
    if isinstance(error, aiosmtplib.SMTPTimeoutError):
        return ProviderAnswer.failed("timeout", retryable=True, detail=str(error))
    if isinstance(error, ConnectionError | OSError):  # refused, reset, disconnected
        return ProviderAnswer.failed("connection", retryable=True,
                                     detail=_detail(str(error), recipient))
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return ProviderAnswer.failed("not_supported", retryable=False, detail=str(error))
    text = str(error)
    # the relay offers no STARTTLS or no AUTH though this account needs them: configuration
    code = "tls" if "STARTTLS" in text else "auth" if "AUTH" in text else "smtp"
    return ProviderAnswer.failed(code, retryable=False, detail=_detail(text, recipient))


def _reply_answer(code: int, text: str, recipient: str, *, at_recipient: bool
                  ) -> ProviderAnswer:
    status = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})\b", text)
    gone = status.group(1) in GONE_STATUSES if status else code in GONE_REPLIES
    return ProviderAnswer.failed(str(code), retryable=400 <= code < 500,
                                 detail=_detail(text, recipient),
                                 address_gone=at_recipient and code >= 500 and gone)


def _detail(text: str, recipient: str) -> str:
    """The relay's words without the recipient's address (relays often repeat it)."""
    local_part = recipient.rpartition("@")[0]
    for personal in (recipient, local_part):
        if len(personal) >= 3:
            text = re.sub(re.escape(personal), "[recipient]", text, flags=re.IGNORECASE)
    return " ".join(text.split())[:DETAIL_LENGTH]


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError(f"smtp provider: {key!r} must be a non-empty string without spaces")
    return value


def _optional_text(entry: Mapping[str, Any], key: str) -> str | None:
    return None if entry.get(key) is None else _text(entry, key)


def _credentials(entry: Mapping[str, Any], name: str) -> tuple[str | None, str | None]:
    username = _optional_text(entry, "username")
    if "password" in entry and "password_file" in entry:
        raise ValueError(f"smtp provider {name!r}: 'password' or 'password_file', not both")
    password: str | None = None
    if "password_file" in entry:
        path = entry["password_file"]
        if not isinstance(path, str):
            raise ValueError(f"smtp provider {name!r}: 'password_file' must be a path")
        try:
            password = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise ValueError(f"smtp provider {name!r}: 'password_file' cannot be read "
                             f"({error.strerror})") from None
    elif "password" in entry:
        password = entry["password"]
        if not isinstance(password, str):
            raise ValueError(f"smtp provider {name!r}: 'password' must be a string")
    if password == "":
        raise ValueError(f"smtp provider {name!r}: the password is empty")
    if (username is None) != (password is None):
        raise ValueError(f"smtp provider {name!r}: 'username' and 'password' go together")
    return username, password


def _sender(entry: Mapping[str, Any], name: str) -> MailAddress:
    address = _text(entry, "from_address")
    display = entry.get("from_name", "Parley")
    if not isinstance(display, str):
        raise ValueError(f"smtp provider {name!r}: 'from_name' must be a string")
    try:
        sender = MailAddress(display_name=" ".join(display.split()), addr_spec=address)
    except (ValueError, IndexError, email_errors.MessageError):
        raise ValueError(f"smtp provider {name!r}: 'from_address' is not an email "
                         "address") from None
    if not sender.domain:
        raise ValueError(f"smtp provider {name!r}: 'from_address' has no domain")
    return sender


def _positive(entry: Mapping[str, Any], key: str, default: float, name: str, *,
              integer: bool = False) -> float:
    value = entry.get(key, default)
    number = isinstance(value, int) or (isinstance(value, float) and not integer)
    if isinstance(value, bool) or not number or value <= 0:
        raise ValueError(f"smtp provider {name!r}: {key!r} must be a positive "
                         f"{'integer' if integer else 'number'}")
    return float(value)


def _tls_context(entry: Mapping[str, Any], name: str) -> ssl.SSLContext:
    ca_file = entry.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ValueError(f"smtp provider {name!r}: 'ca_file' must be a path")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"smtp provider {name!r}: 'ca_file' cannot be loaded "
                         f"({error})") from None
