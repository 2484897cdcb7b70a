"""`python -m bench notifications [--profile embedded|production] [--count N]`: the
notification delivery engine's numbers, as JSON.

Parley runs as real processes (parley/launcher.py); an FCM-shaped stand-in runs in a process
of its own (its own GIL): `POST /token` verifies the service account's RS256 JWT assertion and
issues a bearer (the adapter exchanges once), `POST /v1/projects/{p}/messages:send` checks
the bearer and the message and answers FCM's `{"name": ...}`, timestamping each message as it
arrives (wall clock, the same machine's as the bench's). It speaks plain HTTP/1.1 on
127.0.0.1 (uvicorn with httptools), lighter than the TLS + HTTP/2 stand-in of the tests
(tests/providers/fcm.py), so that the two shared cores go to Parley rather than the stand-in.

Users (`--users`, each with an FCM token) and a service's API key are written through the
commands, straight into the profile's event log (as `parley apikeys create` does), then:

(a) notifications/s end to end, from the first trigger (`POST /v1/notifications`, 1,000
    recipients each, `--concurrency` at once) to the stand-in having received every push,
    for push + in_app; and for in_app alone, to the last trigger answered (the inbox post is
    recorded by the trigger's own transaction). `--runs` runs each, with the median.
(b) with `--bulk` bulk push notifications queued first (the stand-in answers NORMAL-priority
    messages after `--bulk-delay-ms`, so the backlog persists), critical and high ones
    triggered at a steady `--rate` each, timed from the trigger to the stand-in receiving
    them: p50/p99 per priority.
(c) each Parley process's peak RSS (VmHWM).

Who dispatches (`--dispatchers`, production only): `priorities` (the default) runs API
processes that do not dispatch, one `parley dispatch --priorities critical,high` and one
`parley dispatch --priorities normal,bulk`, so urgent notifications have a writer and an event
loop of their own; `api` is the earlier shape, `serve` dispatching everything. In the
embedded default `serve` dispatches.

What decides (`--decisions`): `none` (the default) is part 1's shape: content in the trigger,
no preferences, keys or templates, no throttles (PARLEY_NOTIFICATION_RECIPIENT_LIMIT=0).
`all` runs that deployment and a second one with every decision step engaged, side by side
(their runs alternate, so a change in the machine's load falls on both): each user has
preferences (a time zone of their own, quiet hours not covering the run, an override that
switches push back on against the operator's default for the category, which is off), each
trigger names a unique dedup_key and renders its content from the category's templates
(saved with `parley templates create`), and throttles are on with budgets high enough never
to refuse (per recipient, push per second, the provider's quota: consulted, not bypassed).
It prints both and, per channel mix, the ratio of their end-to-end rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx

from bench.__main__ import percentile
from bench.messenger import peak_rss
from bench.mixed import settle as projected
from bench.processes import UNLIMITED, require_services
from parley.launcher import ParleyProcesses, free_port
from parley.signing_keys import generate_key

PROJECT = "parley-bench"
CLIENT_EMAIL = "parley-bench@parley-bench.iam.gserviceaccount.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
RECIPIENTS_PER_TRIGGER = 1000
# --decisions all: the recipients' zone, the operator's default and budgets never reached
USERS_ZONE = "America/Sao_Paulo"
NEVER_REACHED = 100_000


# --- the FCM-shaped stand-in (its own process) ------------------------------------------

class FcmBenchStandIn:
    """A raw ASGI app: FCM's token exchange and messages:send, and `GET /received?after=N`
    (the messages received after the N-th, as [notification_id, android priority, unix
    time] rows) for the bench to read."""

    def __init__(self, public_key_pem: str, token_uri: str, bulk_delay: float) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        self._public_key = load_pem_public_key(public_key_pem.encode())
        self._token_uri = token_uri
        self._bulk_delay = bulk_delay
        self._issued: set[str] = set()
        self.received: list[tuple[str, str, float]] = []
        self.token_requests = 0
        self.refused: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client gave up (Parley stopping)
                self.refused["disconnected"] = self.refused.get("disconnected", 0) + 1
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/token" and scope["method"] == "POST":
            status, answer = self._token(body)
        elif path == f"/v1/projects/{PROJECT}/messages:send" and scope["method"] == "POST":
            status, answer = await self._send(scope, body)
        elif path == "/bulk-delay" and scope["method"] == "POST":
            self._bulk_delay = float(json.loads(body)["seconds"])
            status, answer = 200, {"bulk_delay_seconds": self._bulk_delay}
        elif path == "/received":
            after = int(parse_qs(scope["query_string"].decode()).get("after", ["0"])[0])
            status, answer = 200, {"rows": self.received[after:],
                                   "token_requests": self.token_requests,
                                   "refused": self.refused}
        else:
            status, answer = 404, {"error": {"code": 404, "status": "NOT_FOUND"}}
        encoded = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(encoded)).encode())]})
        await send({"type": "http.response.body", "body": encoded})

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        import secrets

        import jwt

        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        try:
            claims = jwt.decode(form.get("assertion", ""), self._public_key,  # type: ignore[arg-type]
                                algorithms=["RS256"], audience=self._token_uri,
                                issuer=CLIENT_EMAIL,
                                options={"require": ["iss", "aud", "iat", "exp", "scope"]})
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant"}
        if FCM_SCOPE not in str(claims["scope"]).split():
            return 400, {"error": "invalid_scope"}
        token = "ya29." + secrets.token_urlsafe(32)
        self._issued.add(token)
        self.token_requests += 1
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    async def _send(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
        headers = dict(scope["headers"])
        bearer = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        if bearer not in self._issued:
            self.refused["401"] = self.refused.get("401", 0) + 1
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        try:
            message = json.loads(body)["message"]
            token, data = message["token"], message["data"]
            priority = message["android"]["priority"]
            assert isinstance(token, str) and len(token) >= 20
        except (ValueError, KeyError, TypeError, AssertionError) as error:
            reason = f"400 {type(error).__name__} {error}"[:80]
            self.refused[reason] = self.refused.get(reason, 0) + 1
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}
        if priority != "HIGH" and self._bulk_delay:
            await asyncio.sleep(self._bulk_delay)
        self.received.append((data["notification_id"], priority, time.time()))
        return 200, {"name": f"projects/{PROJECT}/messages/0:{len(self.received)}"}


def serve_stand_in(port: int, public_key_file: str, bulk_delay_ms: float,
                   tls_directory: str | None) -> None:
    """HTTP/1.1 on plain TCP (uvicorn, httptools), or with `tls_directory` (holding key.pem
    and chain.pem) HTTP/2 over TLS by ALPN (hypercorn), as FCM itself speaks."""
    import uvloop

    scheme = "https" if tls_directory else "http"
    app = FcmBenchStandIn(Path(public_key_file).read_text(),
                          f"{scheme}://127.0.0.1:{port}/token", bulk_delay_ms / 1000)
    if tls_directory is None:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                    log_level="warning", access_log=False, backlog=4096, lifespan="on")
        return
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.certfile = str(Path(tls_directory) / "chain.pem")
    config.keyfile = str(Path(tls_directory) / "key.pem")
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = 1000
    # hypercorn closes a connection after 1,000 requests by default (GOAWAY): streams in flight
    # then fail and are retried after a backoff; FCM's front ends keep a connection far longer
    config.keep_alive_max_requests = 2**31
    uvloop.run(serve(app, config))  # type: ignore[arg-type]


@contextlib.contextmanager
def fcm_stand_in(scratch: Path, bulk_delay_ms: float, http2: bool
                 ) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """The stand-in's base URL, the service account key file (JSON) that reaches it, and
    (HTTP/2 over TLS) the CA file to trust."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_file = scratch / "fcm-public.pem"
    public_file.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    port = free_port()
    tls_args: list[str] = []
    ca_file = None
    if http2:
        import trustme

        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        certificate.private_key_pem.write_to_path(str(scratch / "key.pem"))
        certificate.private_key_and_cert_chain_pem.write_to_path(str(scratch / "chain.pem"))
        ca_file = str(scratch / "ca.pem")
        authority.cert_pem.write_to_path(ca_file)
        tls_args = ["--tls-directory", str(scratch)]
    url = f"{'https' if http2 else 'http'}://127.0.0.1:{port}"
    log = (scratch / "fcm-stand-in.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "bench.notifications", "stand-in",
                                "--port", str(port), "--public-key", str(public_file),
                                "--bulk-delay-ms", str(bulk_delay_ms), *tls_args],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/received?after=0", timeout=1, verify=ca_file or True)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the FCM stand-in did not start") from None
                time.sleep(0.1)
        key = {"type": "service_account", "project_id": PROJECT, "private_key_id": "0" * 40,
               "private_key": private.private_bytes(
                   serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                   serialization.NoEncryption()).decode(),
               "client_email": CLIENT_EMAIL, "client_id": "1" * 21,
               "token_uri": f"{url}/token"}
        yield url, key, ca_file
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- Parley, seeded --------------------------------------------------------------------

@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def seed(variables: dict[str, str], users: int, decisions: str = "none"
         ) -> tuple[list[str], str]:
    """`users` users with an FCM token each and a service's API key, written through the
    commands into the configured profile's event log; (user ids, presented key). With
    `decisions` "all" each user also has preferences (`preferences_of`)."""
    from commands.identity.api_keys import IssueApiKey, new_api_key
    from commands.identity.users import RegisterUser
    from commands.notifications.contact_points import ContactPointRules, RegisterDeviceToken
    from commands.notifications.preferences import ChangeNotificationPreferences
    from event_log.aggregate import Cause
    from event_log.log import EventLog
    from event_log.writer import GroupCommitWriter
    from parley.bootstrap import HANDLERS, event_log_env
    from parley.settings import Settings

    with environment(variables):
        settings = Settings()
    if settings.data_dir:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    event_log = EventLog(env=event_log_env(settings))
    writer = GroupCommitWriter(event_log, HANDLERS)
    writer.start()
    try:
        cause = Cause(uuid.uuid4(), uuid.uuid4())
        key = new_api_key()
        writer.execute(IssueApiKey(key.key_id, "bench", ("notifications:trigger",),
                                   key.digest, datetime.now(UTC), "bench", 100), cause)

        def one(n: int) -> str:
            user = writer.execute(RegisterUser(f"bench{uuid.uuid4().hex[:12]}", f"User {n}"),
                                  cause).result.user_id
            writer.execute(RegisterDeviceToken(
                user, uuid.uuid4(), uuid.uuid4(), "fcm", f"fcm:{uuid.uuid4().hex}{n:08d}",
                datetime.now(UTC), ContactPointRules(20)), cause)
            if decisions == "all":
                writer.execute(ChangeNotificationPreferences(
                    user, preferences_of(datetime.now(UTC)), "api", datetime.now(UTC),
                    frozenset(settings.notification_categories)), cause)
            return str(user)

        with ThreadPoolExecutor(32) as pool:
            ids = list(pool.map(one, range(users)))
        return ids, key.presented
    finally:
        writer.stop()
        event_log.close()


def preferences_of(now: datetime) -> Any:
    """A zone of their own, quiet hours from 6 to 8 hours from now (local), and push on for
    the bench's category against the operator's default (`decided_variables`)."""
    from domain.notifications.preferences import PreferenceChanges

    local = now.astimezone(ZoneInfo(USERS_ZONE))
    start, end = ((local + timedelta(hours=h)).strftime("%H:%M") for h in (6, 8))
    return PreferenceChanges({("system", "push"): True}, USERS_ZONE, True, (start, end), True)


def decided_variables(decisions: str) -> dict[str, str]:
    """Part 1 had no throttles; with every step, the operator's default is push off for the
    category (the users switch it on) and every throttle is on, never reached."""
    if decisions == "none":
        return {"PARLEY_NOTIFICATION_RECIPIENT_LIMIT": "0"}
    return {"PARLEY_NOTIFICATION_RECIPIENT_LIMIT": str(NEVER_REACHED),
            "PARLEY_NOTIFICATION_CATEGORY_DEFAULTS": json.dumps({"system": {"push": False}}),
            "PARLEY_NOTIFICATION_CHANNEL_RATES": json.dumps({"push": NEVER_REACHED})}


def save_templates(variables: dict[str, str]) -> None:
    """The bench category's push and inbox templates, with `parley templates create`."""
    for channel in ("push", "in_app"):
        subprocess.run([sys.executable, "-m", "parley", "templates", "create", "--category",
                        "system", "--channel", channel, "--title", "{{ title }}", "--body",
                        "{{ body }}", "--sample", json.dumps({"title": "T", "body": "B"})],
                       env=os.environ | variables, check=True, capture_output=True,
                       timeout=120)


def parley_variables(profile: str, scratch: Path, stand_in: str, account: dict[str, Any],
                     ca_file: str | None, extra: dict[str, str],
                     decisions: str = "none") -> dict[str, str]:
    provider = {"name": "fcm", "kind": "fcm", "project_id": PROJECT, "service_account": account,
                "endpoint": stand_in, "timeout_seconds": 10}
    if ca_file is not None:
        provider["ca_file"] = ca_file
    if decisions == "all":  # the provider's quota: consulted, never reached
        provider |= {"rate_per_second": NEVER_REACHED, "burst": NEVER_REACHED}
    variables = dict(UNLIMITED) | decided_variables(decisions) | {
        "PARLEY_LOG_LEVEL": "WARNING",
        "PARLEY_NOTIFICATION_PROVIDERS": json.dumps([provider]),
        "PARLEY_NOTIFICATION_ALLOW_LOOPBACK_HTTP": "true"}
    if profile == "production":
        require_services()
        variables |= {"PARLEY_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
                      "PARLEY_SECRET_KEY": generate_key()}
    else:
        variables |= {"PARLEY_DATA_DIR": str(scratch / "data"), "PARLEY_DATABASE_URL": ""}
    return variables | extra


# --- measuring --------------------------------------------------------------------------

class Received:
    """What the stand-in has received, read incrementally."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.rows: list[tuple[str, str, float]] = []

    async def refresh(self, http: httpx.AsyncClient) -> int:
        answer = (await http.get(f"{self._url}/received",
                                 params={"after": len(self.rows)})).json()
        self.rows.extend(tuple(r) for r in answer["rows"])  # type: ignore[misc]
        return len(self.rows)

    async def until(self, http: httpx.AsyncClient, count: int,
                    quiet_seconds: float = 30.0) -> float | None:
        """The wall time the `count`-th message arrived, or None if arrivals stopped short."""
        last, last_change = len(self.rows), time.monotonic()
        while len(self.rows) < count:
            await asyncio.sleep(0.1)
            now_count = await self.refresh(http)
            if now_count != last:
                last, last_change = now_count, time.monotonic()
            elif time.monotonic() - last_change > quiet_seconds:
                return None
        return self.rows[count - 1][2]


RETRIES = {"503": 0}  # triggers answered 503 (not stored, retry) and sent again


def trigger_body(recipients: list[str], priority: str, channels: list[str], title: str,
                 decisions: str) -> dict[str, Any]:
    """With every step: the content from the category's templates and a dedup key of its own."""
    body: dict[str, Any] = {"recipients": recipients, "category": "system",
                            "priority": priority, "plan": {"channels": channels}}
    if decisions == "none":
        return body | {"content": {"title": title, "body": "Bench body."}}
    return body | {"template_variables": {"title": title, "body": "Bench body."},
                   "dedup_key": f"bench-{uuid.uuid4().hex}"}


async def post_trigger(http: httpx.AsyncClient, key: str, recipients: list[str],
                       priority: str, channels: list[str], title: str,
                       decisions: str = "none") -> dict[str, Any]:
    """One trigger, sent again (as its 503 asks) while the writer says it did not store it."""
    body = trigger_body(recipients, priority, channels, title, decisions)
    for _ in range(10):
        response = await http.post("/v1/notifications",
                                   headers={"Authorization": f"Bearer {key}"}, json=body)
        if response.status_code != 503:
            break
        RETRIES["503"] += 1
    if response.status_code != 202:
        raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


async def trigger_many(http: httpx.AsyncClient, key: str, users: list[str], count: int,
                       concurrency: int, priority: str, channels: list[str],
                       decisions: str = "none") -> list[float]:
    """`count` notifications in triggers of up to 1,000 recipients, `concurrency` at once;
    the seconds each trigger took to be answered."""
    chunks = [users[i:i + RECIPIENTS_PER_TRIGGER]
              for i in range(0, len(users), RECIPIENTS_PER_TRIGGER)]
    plan: list[list[str]] = []
    left = count
    while left > 0:
        chunk = chunks[len(plan) % len(chunks)][:left]
        plan.append(chunk)
        left -= len(chunk)
    latencies: list[float] = []

    async def worker() -> None:
        while plan:
            recipients = plan.pop()
            started = time.perf_counter()
            await post_trigger(http, key, recipients, priority, channels, "Bench", decisions)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(http: httpx.AsyncClient, received: Received, key: str, users: list[str],
                     count: int, concurrency: int, channels: list[str],
                     serve_pid: int, dispatcher_pids: tuple[int, ...] = (),
                     decisions: str = "none") -> dict[str, Any]:
    await received.refresh(http)
    before = len(received.rows)
    load = os.getloadavg()[0]
    cpu_before = cpu_seconds(serve_pid)
    dispatchers_before = sum(cpu_seconds(pid) for pid in dispatcher_pids)
    started_wall, started = time.time(), time.perf_counter()
    latencies = await trigger_many(http, key, users, count, concurrency, "normal", channels,
                                   decisions)
    triggered = time.perf_counter() - started
    result: dict[str, Any] = {
        "channels": channels, "concurrency": concurrency, "notifications": count,
        "triggers_per_second": round(len(latencies) / triggered, 2),
        "trigger_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "trigger_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "accepted_per_second": round(count / triggered, 1)}
    if "push" in channels:
        last = await received.until(http, before + count)
        if last is None:
            result["lost"] = before + count - len(received.rows)
        else:
            result["end_to_end_per_second"] = round(count / (last - started_wall), 1)
    # in the inbox (and every other read model) once the projectors have caught up
    result["projected_after_s"] = await projected(http, timeout=120, every=0.02)
    if "push" not in channels:
        result["end_to_end_per_second"] = round(count / (time.time() - started_wall), 1)
    # what the machine's load cannot blur: the dispatching (and, embedded, projecting)
    # process's CPU per notification, once the notifications are in the inbox
    result["serve_cpu_ms_per_notification"] = round(
        (cpu_seconds(serve_pid) - cpu_before) * 1000 / count, 3)
    if dispatcher_pids:  # `parley dispatch` processes do the sending: their CPU apart
        result["dispatchers_cpu_ms_per_notification"] = round(
            (sum(cpu_seconds(pid) for pid in dispatcher_pids) - dispatchers_before) * 1000
            / count, 3)
    result["load_1min_before"] = round(load, 2)
    return result


async def latency_under_backlog(http: httpx.AsyncClient, received: Received, key: str,
                                users: list[str], bulk: int, rate: float,
                                seconds: float, dumps: Any = None,
                                decisions: str = "none") -> dict[str, Any]:
    await received.refresh(http)
    bulk_seen_before = sum(1 for r in received.rows if r[1] != "HIGH")
    queued_from = time.perf_counter()
    await trigger_many(http, key, users, bulk, 4, "bulk", ["push"], decisions)
    queue_seconds = time.perf_counter() - queued_from
    sent: dict[str, tuple[str, float]] = {}  # notification id -> (priority, triggered at)
    answered: dict[str, float] = {}  # notification id -> when its trigger was answered
    interval = 1.0 / rate
    tasks = []

    async def one(priority: str) -> None:
        at = time.time()
        answer = await post_trigger(http, key, [users[len(sent) % len(users)]], priority,
                                    ["push"], priority, decisions)
        sent[answer["notifications"][0]["notification_id"]] = (priority, at)
        answered[answer["notifications"][0]["notification_id"]] = time.time()

    await received.refresh(http)
    steady_from = len(received.rows)
    started = time.perf_counter()
    n = 0
    if dumps is not None:
        dumps.start()
    while time.perf_counter() - started < seconds:
        for priority in ("critical", "high"):
            tasks.append(asyncio.ensure_future(one(priority)))
        n += 1
        await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await received.refresh(http)
        arrived = {r[0] for r in received.rows[steady_from:] if r[1] == "HIGH"}
        if all(nid in arrived for nid in sent):
            break
        await asyncio.sleep(0.2)
    at_of = {r[0]: r[2] for r in received.rows[steady_from:] if r[1] == "HIGH"}
    bulk_seen = sum(1 for r in received.rows if r[1] != "HIGH") - bulk_seen_before
    result: dict[str, Any] = {"bulk_queued": bulk,
                              "bulk_queue_seconds": round(queue_seconds, 1),
                              "bulk_delivered_by_end": bulk_seen,
                              "rate_per_priority": rate, "seconds": seconds}
    for priority in ("critical", "high"):
        delays = [at_of[nid] - at for nid, (p, at) in sent.items() if p == priority
                  and nid in at_of]
        to_answer = [answered[nid] - at for nid, (p, at) in sent.items() if p == priority]
        after_answer = [at_of[nid] - answered[nid] for nid, (p, _) in sent.items()
                        if p == priority and nid in at_of]
        result[priority] = {"sent": sum(1 for p, _ in sent.values() if p == priority),
                            "received": len(delays),
                            "trigger_answered_p50_ms": _ms(to_answer, 0.5),
                            "trigger_answered_p99_ms": _ms(to_answer, 0.99),
                            "answer_to_provider_p50_ms": _ms(after_answer, 0.5),
                            "answer_to_provider_p99_ms": _ms(after_answer, 0.99),
                            "p50_ms": round(percentile(delays, 0.5) * 1000, 1) if delays
                            else None,
                            "p99_ms": round(percentile(delays, 0.99) * 1000, 1) if delays
                            else None}
    return result


def dump_stacks(pids: dict[str, int], directory: Path, seconds: float) -> None:
    """py-spy dumps of each named process every 0.5 s, into `directory/<name>/`."""
    for name in pids:
        (directory / name).mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        for name, pid in pids.items():
            with (directory / name / f"dump-{n:03d}.txt").open("w") as out:
                subprocess.run([spy, "dump", "--pid", str(pid), "--nonblocking"], stdout=out,
                               stderr=subprocess.STDOUT, check=False, timeout=30)
        time.sleep(0.5)


def _ms(delays: list[float], fraction: float) -> float | None:
    return round(percentile(delays, fraction) * 1000, 1) if delays else None


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r.get("end_to_end_per_second", 0.0) for r in runs]
    cpu = [r["serve_cpu_ms_per_notification"] for r in runs]
    return {"runs": runs, "median_end_to_end_per_second": statistics.median(rates),
            "median_serve_cpu_ms_per_notification": statistics.median(cpu)}


@dataclass(frozen=True)
class Deployment:
    """One Parley of the run: what decides in it (`none` or `all`), its processes, its seeded
    users and the service's API key."""

    decisions: str
    processes: ParleyProcesses
    users: list[str]
    key: str
    seed_seconds: float

    def pids(self) -> tuple[int, tuple[int, ...]]:
        """serve's, and the `parley dispatch` processes' (if any)."""
        running = self.processes.running
        return running["serve"].pid, tuple(running[name].pid for name in DISPATCHERS
                                           if name in running)


async def settle(http: httpx.AsyncClient, received: Received, quiet_seconds: float = 5.0,
                 longest: float = 900.0) -> None:
    """Until the stand-in has received nothing new for `quiet_seconds` (a backlog drained)."""
    last, last_change, deadline = -1, time.monotonic(), time.monotonic() + longest
    while time.monotonic() - last_change < quiet_seconds and time.monotonic() < deadline:
        now_count = await received.refresh(http)
        if now_count != last:
            last, last_change = now_count, time.monotonic()
        await asyncio.sleep(0.5)


async def measure(args: argparse.Namespace, deployments: list[Deployment], stand_in: str,
                  ca_file: str | None) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each deployment's results (by what decides in it), and what the stand-in saw."""
    received = Received(stand_in)
    limits = httpx.Limits(max_connections=64)
    results: dict[str, dict[str, Any]] = {d.decisions: {} for d in deployments}
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for d in deployments:
            http = await stack.enter_async_context(httpx.AsyncClient(
                base_url=d.processes.base_url, timeout=120, limits=limits,
                verify=ca_file or True))
            clients[d.decisions] = http
            before = await received.refresh(http)
            warm_up = await post_trigger(http, d.key, d.users[:10], "normal",
                                         ["push", "in_app"], "warm up", d.decisions)
            await received.until(http, before + 10)
            results[d.decisions]["warm_up_trace"] = engaged(
                d, warm_up["notifications"][0]["notification_id"])
        if "throughput" in args.parts:
            for name in args.mixes:
                channels = name.split("+")
                for concurrency in args.concurrency:
                    runs: dict[str, list[dict[str, Any]]] = {d.decisions: [] for d in deployments}
                    for _ in range(args.runs):
                        for d in deployments:  # alternating: the machine's load falls on each
                            serve, dispatchers = d.pids()
                            runs[d.decisions].append(await throughput(
                                clients[d.decisions], received, d.key, d.users, args.count,
                                concurrency, channels, serve, dispatchers, d.decisions))
                    for d in deployments:
                        results[d.decisions][f"{name} c={concurrency}"] = medians(
                            runs[d.decisions])
        if "latency" in args.parts:
            for d in deployments:  # one after the other, each after the last one's backlog
                http = clients[d.decisions]
                await http.post(f"{stand_in}/bulk-delay",
                                json={"seconds": args.bulk_delay_ms / 1000})
                dumps = None
                if args.dump_stacks:  # py-spy dumps every 0.5 s while critical ones go
                    dumped = {name: d.processes.running[name].pid
                              for name in ("serve", *DISPATCHERS)
                              if name in d.processes.running}
                    dumps = threading.Thread(target=dump_stacks, daemon=True, args=(
                        dumped, Path(args.dump_stacks) / d.decisions, args.seconds))
                results[d.decisions]["latency_with_bulk_backlog"] = await latency_under_backlog(
                    http, received, d.key, d.users, args.bulk, args.rate, args.seconds, dumps,
                    d.decisions)
                if len(deployments) > 1:
                    await http.post(f"{stand_in}/bulk-delay", json={"seconds": 0})
                    await settle(http, received)
        http = clients[deployments[0].decisions]
        await received.refresh(http)
        tokens = (await http.get(f"{stand_in}/received",
                                 params={"after": len(received.rows)})).json()
    for d in deployments:
        results[d.decisions]["peak_rss_mib"] = peak_rss(d.processes)
    return results, {"triggers_retried_after_503": RETRIES["503"],
                     "fcm_token_exchanges": tokens["token_requests"],
                     "fcm_refused": tokens["refused"]}


def engaged(deployment: Deployment, notification_id: str) -> list[str]:
    """A warm-up notification's trace (`parley notifications trace`, from the log) in short;
    with every step, refused unless each was asked and used what it was meant to: the user's
    rule kept push on, the quiet hours and the dedup key were looked at, the template
    rendered the content."""
    from domain.notifications.pipeline import DECISION_STEPS

    deadline = time.monotonic() + 30
    while True:  # the dispatch's answer may reach the log a moment after the stand-in
        answer = subprocess.run([sys.executable, "-m", "parley", "notifications", "trace",
                                 notification_id, "--json"], env=deployment.processes.env,
                                capture_output=True, text=True, check=True, timeout=120)
        trace = json.loads(answer.stdout)
        if trace["state"] != "dispatching" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    steps = trace["steps"]
    short = [f"{s['step']}{'/' + s['name'] if s['name'] else ''}: {s['outcome']}"[:120]
             for s in steps]
    if deployment.decisions == "none":
        return short
    decided = {s["name"]: s["details"].get("inputs") or {} for s in steps
               if s["step"] == "decision"}
    problems = [name for name in (step.name for step in DECISION_STEPS) if name not in decided]
    if decided.get("preferences", {}).get("channels", {}).get("push", {}).get("rule") != "user":
        problems.append("preferences: push not kept on by the user's rule")
    if not decided.get("quiet_hours", {}).get("quiet_hours"):
        problems.append("quiet_hours: none looked at")
    if not decided.get("dedup", {}).get("dedup_key"):
        problems.append("dedup: no key looked at")
    if not any(s["step"] == "template" for s in steps):
        problems.append("no template rendering recorded")
    if problems:
        raise SystemExit(f"bench: with every step, the warm-up's trace lacks: {problems}; "
                         f"{short}")
    return short


def compared(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per throughput run, the median end-to-end rate with every step over part 1's."""
    return {run: round(results["all"][run]["median_end_to_end_per_second"]
                       / none["median_end_to_end_per_second"], 3)
            for run, none in results["none"].items()
            if isinstance(none, dict) and "median_end_to_end_per_second" in none
            and none["median_end_to_end_per_second"]}


# `--dispatchers priorities`: each process's name, and the priorities it takes
DISPATCHERS = {"dispatch-urgent": "critical,high", "dispatch-rest": "normal,bulk"}


def start_dispatchers(processes: ParleyProcesses) -> None:
    for name, priorities in DISPATCHERS.items():
        processes.start_named(name, "dispatch", "--priorities", priorities)
    for name in DISPATCHERS:
        processes.wait_until_logged(name, "dispatcher started")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notifications")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--count", type=int, default=10_000,
                        help="notifications per throughput run")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4],
                        help="triggers in flight (each of 1,000 recipients)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mixes", nargs="+", default=["push+in_app", "in_app"],
                        help="channel plans of the throughput runs (channels joined by +)")
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--bulk-delay-ms", type=float, default=1000.0,
                        help="the stand-in answers NORMAL-priority (bulk) messages this late")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="critical (and high) notifications per second under the backlog")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--parts", nargs="+", choices=["throughput", "latency"],
                        default=["throughput", "latency"])
    parser.add_argument("--fcm-http", choices=["1.1", "2"], default="2",
                        help="the stand-in's protocol: HTTP/2 over TLS (as FCM) or plain "
                             "HTTP/1.1")
    parser.add_argument("--set", nargs="*", default=[], metavar="PARLEY_X=value",
                        help="more settings for Parley's processes")
    parser.add_argument("--dispatchers", choices=["priorities", "api"], default="priorities",
                        help="production: `parley dispatch` processes per priority class "
                             "(critical,high and normal,bulk) and API processes that do not "
                             "dispatch; or `api`: serve dispatches everything")
    parser.add_argument("--decisions", choices=["none", "all"], default="none",
                        help="none: part 1's shape; all: that deployment and one with every "
                             "decision step engaged, runs alternating, and their ratio")
    parser.add_argument("--logs", default=None, metavar="DIR",
                        help="keep each Parley process's log in DIR/<none|all>/ (default: "
                             "discarded)")
    parser.add_argument("--dump-stacks", default=None, metavar="DIR",
                        help="py-spy dump serve's (and the dispatchers') threads into "
                             "DIR/<none|all>/<name>/ "
                             "during the steady phase")
    parser.add_argument("--profile-with", default=None, metavar="SVG",
                        help="py-spy record each serve process meanwhile (with --decisions all: "
                             "into NAME-none.EXT and NAME-all.EXT)")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    by_priority = args.profile == "production" and args.dispatchers == "priorities"
    if by_priority:
        extra = {"PARLEY_NOTIFICATION_DISPATCH_IN_API": "false"} | extra
    shapes = ["none", "all"] if args.decisions == "all" else ["none"]
    with tempfile.TemporaryDirectory() as scratch_name, contextlib.ExitStack() as stack:
        scratch = Path(scratch_name)
        stand_in, account, ca_file = stack.enter_context(
            fcm_stand_in(scratch, 0.0, args.fcm_http == "2"))
        deployments = [stack.enter_context(deployment(
            args, decisions, scratch, stand_in, account, ca_file, extra, by_priority))
            for decisions in shapes]
        spies = []
        if args.profile_with:  # each deployment's serve, into <name>-<none|all><suffix>
            target = Path(args.profile_with)
            for decisions, one in zip(shapes, deployments, strict=True):
                out = (target if len(shapes) == 1
                       else target.with_name(f"{target.stem}-{decisions}{target.suffix}"))
                spies.append(subprocess.Popen(
                    [str(Path(sys.executable).with_name("py-spy")), "record", "-o", str(out),
                     "--format", "raw" if out.suffix == ".txt" else "flamegraph",
                     "--rate", "250", "--pid", str(one.pids()[0]), "--threads",
                     "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            results, seen = asyncio.run(measure(args, deployments, stand_in, ca_file))
        finally:
            for spy in spies:
                spy.send_signal(2)
                spy.wait(timeout=60)
    report: dict[str, Any] = {"profile": args.profile, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "load_after": os.getloadavg()},
        "stand_in": f"FCM-shaped, separate process, HTTP/{args.fcm_http}"
                    + (" over TLS" if args.fcm_http == "2" else " plain"),
        "users": args.users,
        "dispatchers": DISPATCHERS if by_priority else {"serve": "all priorities"}}
    seeded = {d.decisions: d.seed_seconds for d in deployments}
    if len(deployments) == 1:
        report |= {"decisions": "none", "seed_seconds": seeded["none"], **results["none"]}
    else:
        report |= {"seed_seconds": seeded, "decisions": results,
                   "all_over_none_end_to_end": compared(results)}
    print(json.dumps(report | seen, indent=2))


@contextlib.contextmanager
def deployment(args: argparse.Namespace, decisions: str, scratch: Path, stand_in: str,
               account: dict[str, Any], ca_file: str | None, extra: dict[str, str],
               by_priority: bool) -> Iterator[Deployment]:
    """Parley serving, seeded (and with every step, its templates saved)."""
    home = scratch / decisions
    home.mkdir()
    variables = parley_variables(args.profile, home, stand_in, account, ca_file, extra,
                                 decisions)
    logs = Path(args.logs) / decisions if args.logs else home
    logs.mkdir(parents=True, exist_ok=True)
    processes = ParleyProcesses(variables, logs)
    seeded_at = time.perf_counter()

    def seeded() -> tuple[list[str], str]:
        users, key = seed(variables, args.users, decisions)
        if decisions == "all":
            save_templates(variables)
        return users, key

    if args.profile == "embedded":  # one writer at a time on the SQLite log
        users, key = seeded()
    with processes.serving(args.profile):
        if by_priority:
            start_dispatchers(processes)
        if args.profile == "production":
            users, key = seeded()
        yield Deployment(decisions, processes, users, key,
                         round(time.perf_counter() - seeded_at, 1))


def stand_in_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications stand-in")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--bulk-delay-ms", type=float, default=0.0)
    parser.add_argument("--tls-directory", default=None)
    args = parser.parse_args(argv)
    serve_stand_in(args.port, args.public_key, args.bulk_delay_ms, args.tls_directory)


if __name__ == "__main__":
    if sys.argv[1:2] == ["stand-in"]:
        stand_in_main(sys.argv[2:])
    else:
        main()
