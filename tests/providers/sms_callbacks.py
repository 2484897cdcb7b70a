"""Parley's SMS callback route on its own, for providers' stand-ins to post real callbacks to:
the route, its problem answers and request limits as the app installs them, the providers'
verifiers, and a writer that records what the route submits instead of deciding it."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from api.http.dependencies import get_writer
from api.http.limits import RequestLimits
from api.http.problems import install_problem_handlers
from api.notifications.callbacks import CALLBACK_PREFIX, callbacks
from api.notifications.dependencies import SmsCallbacks, get_sms_callbacks
from api.notifications.sms_reports import SmsCallbackVerifiers
from event_log.aggregate import Cause
from event_log.outcomes import Outcome


@dataclass
class RecordingWriter:
    """Answers every command at once (position 1) and keeps it."""

    submitted: list[tuple[Any, Cause]] = field(default_factory=list)
    longest_answer_seconds: float = 2.0

    def submit(self, command: Any, cause: Cause, idempotency_key: str | None = None,
               fingerprint: str = "") -> Future[Outcome[Any]]:
        self.submitted.append((command, cause))
        answer: Future[Outcome[Any]] = Future()
        answer.set_result(Outcome(None, position=len(self.submitted)))
        return answer

    @property
    def commands(self) -> list[Any]:
        return [command for command, _ in self.submitted]


@dataclass
class CallbackReceiver:
    """`app` takes callbacks for `verifiers`; set `public_url` once the server's URL is known."""

    verifiers: SmsCallbackVerifiers
    public_url: str = "http://127.0.0.1:8000"
    writer: RecordingWriter = field(default_factory=RecordingWriter)

    def __post_init__(self) -> None:
        app = FastAPI()
        install_problem_handlers(app)
        app.include_router(callbacks)
        app.add_middleware(RequestLimits, max_body_bytes=64 * 1024,
                           form_prefixes=(CALLBACK_PREFIX,))
        app.dependency_overrides[get_sms_callbacks] = lambda: SmsCallbacks(
            self.public_url, self.verifiers)
        app.dependency_overrides[get_writer] = lambda: self.writer
        self.app = app
