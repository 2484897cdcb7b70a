"""A stand-in SMTP relay (aiosmtpd) on 127.0.0.1: AUTH LOGIN/PLAIN against one account, STARTTLS
or implicit TLS with a certificate from a throwaway CA (trustme), and behaviours a test sets:
a reply in place of 250 (451, 550, ...) for the next messages or for one recipient, a
connection dropped after the message's data and before the reply, a slow reply.

`received` and `inbox(address)` are what a reader sees: messages de-duplicated by Message-ID,
as mail clients and mailbox stores do; `transactions` is every message the relay took.
"""

from __future__ import annotations

import asyncio
import hmac
import ssl
import tempfile
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.providers.servers import free_port

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class Taken:
    """One message the relay accepted (250 after DATA)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None  # who authenticated, if anyone
    over_tls: bool


@dataclass
class _Next:
    """What the relay does to the next `times` messages instead of taking them."""

    times: int
    reply: str | None = None  # a reply after DATA in place of 250
    drop: bool = False  # close the connection after the data, before any reply
    delay_seconds: float = 0.0  # wait this long, then carry on as otherwise
    every_step: bool = False  # wait before each reply of the transaction (MAIL, RCPT, DATA)


class SmtpRelay:
    """`with SmtpRelay(username="relay-user", password="...") as relay:` serves SMTP at
    `relay.host`, `relay.port` until the block ends (`relay.ca_file` trusts its certificate)."""

    def __init__(self, *, username: str | None = None, password: str | None = None,
                 security: Security = "starttls", data_size_limit: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.security = security
        self._account = (username, password) if username is not None else None
        self._lock = threading.Lock()
        self._transactions: list[Taken] = []
        self._next: list[_Next] = []
        self._recipient_replies: dict[str, str] = {}
        self.connections = 0
        self._goodbye_delay_seconds = 0.0
        self._directory = tempfile.TemporaryDirectory(prefix="parley-smtp-")
        self.ca_file: str | None = None
        server_context = self._server_context() if security != "none" else None
        self._controller = _CountingController(
            self, _Handler(self), hostname=self.host, port=self.port,
            server_hostname="relay.test", ready_timeout=5.0,
            authenticator=self._authenticate if self._account else None,
            auth_required=self._account is not None,
            # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS session is one too
            auth_require_tls=security == "starttls",
            tls_context=server_context if security == "starttls" else None,
            require_starttls=security == "starttls",
            ssl_context=server_context if security == "tls" else None,
            data_size_limit=data_size_limit,
        )

    def _server_context(self) -> ssl.SSLContext:
        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        ca = Path(self._directory.name) / "ca.pem"
        authority.cert_pem.write_to_path(str(ca))
        self.ca_file = str(ca)
        return context

    # --- what a test sets -------------------------------------------------------------------

    def answer_next(self, reply: str, *, times: int = 1) -> None:
        """Reply `reply` (e.g. "451 4.3.0 Try again later") after the next messages' data."""
        with self._lock:
            self._next.append(_Next(times, reply=reply))

    def drop_next(self, *, times: int = 1) -> None:
        """Close the connection of the next messages after their data, before any reply."""
        with self._lock:
            self._next.append(_Next(times, drop=True))

    def delay_next(self, seconds: float, *, times: int = 1, every_step: bool = False) -> None:
        """Wait `seconds` before replying to the next messages' data (or, every_step, before
        each reply of their transactions: each in time, all together slow)."""
        with self._lock:
            self._next.append(_Next(times, delay_seconds=seconds, every_step=every_step))

    def delay_goodbyes(self, seconds: float) -> None:
        """Wait `seconds` before answering QUIT (after the message was taken), until reset."""
        with self._lock:
            self._goodbye_delay_seconds = seconds

    def answer_recipient(self, address: str, reply: str) -> None:
        """Reply `reply` (e.g. "550 5.1.1 User unknown") to RCPT TO for `address`, always."""
        with self._lock:
            self._recipient_replies[address.lower()] = reply

    def reset(self) -> None:
        """Forget the behaviours set (not the messages taken)."""
        with self._lock:
            self._next.clear()
            self._recipient_replies.clear()
            self._goodbye_delay_seconds = 0.0

    # --- what a test reads ------------------------------------------------------------------

    @property
    def transactions(self) -> list[Taken]:
        with self._lock:
            return list(self._transactions)

    @property
    def received(self) -> list[EmailMessage]:
        """Every message taken, once per Message-ID (what a reader sees)."""
        return _unique([taken.message for taken in self.transactions])

    def inbox(self, address: str) -> list[EmailMessage]:
        """The messages taken for `address` (the envelope's recipients), once per Message-ID."""
        return _unique([taken.message for taken in self.transactions
                        if address.lower() in (to.lower() for to in taken.rcpt_tos)])

    # --- the relay ----------------------------------------------------------------------------

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if self._account is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username, password = self._account
        ok = hmac.compare_digest(auth_data.login, (username or "").encode()) and \
            hmac.compare_digest(auth_data.password, (password or "").encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode())

    def _peek_next(self) -> _Next | None:
        with self._lock:
            return self._next[0] if self._next else None

    def _take_next(self) -> _Next | None:
        with self._lock:
            if not self._next:
                return None
            behaviour = self._next[0]
            behaviour.times -= 1
            if behaviour.times <= 0:
                self._next.pop(0)
            return behaviour

    def start(self) -> SmtpRelay:
        self._controller.start()
        with self._lock:
            self.connections = 0  # the controller's own probe on start
        return self

    def stop(self) -> None:
        self._controller.stop()
        self._directory.cleanup()

    def __enter__(self) -> SmtpRelay:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


class _CountingController(Controller):
    def __init__(self, relay: SmtpRelay, handler: Any, **options: Any) -> None:
        super().__init__(handler, **options)
        self._relay = relay

    def factory(self) -> SMTP:
        with self._relay._lock:
            self._relay.connections += 1
        return super().factory()


class _Handler:
    def __init__(self, relay: SmtpRelay) -> None:
        self._relay = relay

    async def _step(self) -> None:
        behaviour = self._relay._peek_next()
        if behaviour is not None and behaviour.every_step:
            await asyncio.sleep(behaviour.delay_seconds)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        await self._step()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        await self._step()
        with self._relay._lock:
            reply = self._relay._recipient_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._relay._lock:
            delay = self._relay._goodbye_delay_seconds
        await asyncio.sleep(delay)
        return "221 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        behaviour = self._relay._take_next()
        if behaviour is not None and behaviour.delay_seconds:
            await asyncio.sleep(behaviour.delay_seconds)
        if behaviour is not None and behaviour.drop:
            assert server.transport is not None
            server.transport.abort()
            return "421 4.3.0 (never sent: the connection is gone)"
        if behaviour is not None and behaviour.reply is not None:
            return behaviour.reply
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        taken = Taken(mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos),
                      message=message, raw=raw,
                      login=session.auth_data if session.authenticated else None,
                      over_tls=_over_tls(server))
        with self._relay._lock:
            self._relay._transactions.append(taken)
        return "250 2.0.0 OK: queued"


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _unique(messages: list[EmailMessage]) -> list[EmailMessage]:
    seen: set[str] = set()
    unique = []
    for message in messages:
        key = str(message.get("Message-ID", "")) or str(id(message))
        if key not in seen:
            seen.add(key)
            unique.append(message)
    return unique
