"""The parts of Parley's object graph that both profiles build alike: the `Parley`
object, the write side, the queries, sign-in, attachments, process managers.

The embedded profile (parley/bootstrap.py) and the production profile
(parley/production.py) each import these; neither imports the other's module back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from api.audit.chain_check import ChainCheck
from api.http.command_writer import CommandWriter
from api.http.rate_limits import (
    BackoffRule,
    FailureBackoff,
    RateLimiter,
)
from api.identity.hashing_pool import HashingPool
from api.identity.sign_in_throttle import SignInThrottle
from commands.audit.integrity import ChainRecords
from commands.audit.queries import AuditLog
from commands.identity.api_keys import LoggedApiKeys
from commands.messaging.attachments import BlobStore, attachment_effects
from commands.processes.issuing import IssueCommands
from commands.processes.runner import ProcessLocks, ProcessManagerRunner, ProcessPositions
from commands.processes.schedules import ScheduledJob
from domain.identity.passwords import PasswordPolicy
from domain.messaging.attachments import UploadPolicy
from domain.messaging.upload_quota import UploadQuota
from domain.notifications.channels import PRIORITIES
from event_log.log import EventLog
from event_log.moved_topics import register_moved_modules
from event_log.outcomes import Handler, Outcome
from event_log.writer import GroupCommitWriter
from parley import contexts
from parley.contexts.manifest import EffectParts, ScheduleParts
from parley.operations import Operations
from parley.settings import Settings
from projections.identity.contacts import ContactQueries
from projections.identity.devices import DeviceQueries
from projections.identity.presence import MemoryPresence, PresenceAudience, PresenceStore
from projections.identity.users import UserDirectoryQueries
from projections.messaging.attachments import AttachmentAccess, UploaderOnly
from projections.messaging.feed import FeedQueries
from projections.messaging.invitations import InvitationQueries
from projections.messaging.live import (
    LiveUpdates,
    LocalFanOut,
    addressed_notification,
    feed_notification,
    stream_notification,
)
from projections.messaging.memberships import Memberships
from projections.messaging.queries import AttachmentReaders, MessagingQueries
from projections.notifications.analytics_report import AnalyticsQueries, Price
from projections.notifications.contact_points import ContactPointQueries
from projections.notifications.providers import ProviderHealthQueries
from projections.notifications.templates import TemplateQueries
from projections.read_model.consistency import ConsistencyGate
from projections.read_model.documents import DocumentChange, ReadStore
from projections.read_model.events import PositionedEvent
from projections.read_model.hot_paths import ServingGenerations, StampedCache, first_generations
from projections.read_model.runner import Cache, Projector

if TYPE_CHECKING:
    from commands.notifications.dispatcher import DispatchQueue
    from parley.notification_engine import NotificationEngine
    from projections.notifications.inbox import InboxQueries

log = logging.getLogger(__name__)
# events stored before the bounded-contexts move still decode (ADR 0011)
register_moved_modules(contexts.moved_event_modules())

HANDLERS: dict[type, Handler] = contexts.handlers()


def projectors() -> list[Projector]:
    return contexts.projectors()


def live_notifier(live: LiveUpdates, store: ReadStore,
                  presence: PresenceStore) -> Callable[[Sequence[DocumentChange], int], None]:
    """Called after each projection batch: wakes the sockets whose members it concerns, and
    sends the frames the contexts make of it for particular people (read from `store`), if
    they have a live socket open (`presence`'s leases, kept by every process's sockets)."""
    frame_makers = contexts.live_frames()

    def open_sockets(user_ids: Collection[str]) -> set[str]:
        return presence.online_among(user_ids, datetime.now(UTC)) if user_ids else set()

    def notify(changes: Sequence[DocumentChange], upto: int) -> None:
        notification = feed_notification(changes, upto)
        if notification is not None:
            live.publish(notification)
        frames: list[tuple[str, dict[str, Any]]] = []
        for make in frame_makers:
            try:
                frames.extend(make(changes, store, open_sockets))
            except Exception:  # frames are a courtesy: the batch is written already
                log.warning("live frames of a projection batch up to %d not made", upto,
                            exc_info=True)
        addressed = addressed_notification(frames)
        if addressed is not None:
            live.publish(addressed)

    return notify


def stream_announcer(live: LiveUpdates) -> Callable[[Sequence[PositionedEvent], int, int], None]:
    """Called by whoever reads the log in order, as it reads: the stream live sockets follow."""
    def announce(events: Sequence[PositionedEvent], after: int, upto: int) -> None:
        live.publish(stream_notification(events, after, upto))

    return announce


class QueriesOnly:
    """The writer of a process built to serve queries only (`build(..., with_writer=False)`):
    a command sent to it fails, as a command to such a process always did."""

    longest_answer_seconds = 0.0

    def submit(self, command: Any, cause: Any, idempotency_key: str | None = None,
               fingerprint: str = "") -> Future[Outcome[Any]]:
        raise RuntimeError("this process serves queries only; send commands to one that writes")


@dataclass
class Parley:
    """Everything a Parley process needs, built once and closed once."""

    settings: Settings
    event_log: EventLog
    store: ReadStore
    cache: Cache
    gate: ConsistencyGate
    secret_key: str
    send_limiter: RateLimiter = field(kw_only=True)
    typing_limiter: RateLimiter = field(kw_only=True)
    # a process built without the writer serves queries only (see QueriesOnly)
    writer: CommandWriter = field(default_factory=lambda: QueriesOnly())
    live: LiveUpdates = field(default_factory=LocalFanOut)
    presence: PresenceStore = field(default_factory=MemoryPresence)
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    upload_policy: UploadPolicy = field(default_factory=UploadPolicy)
    upload_quota: UploadQuota = field(default_factory=UploadQuota)
    # Set by the attach_* steps below, which every profile runs: never None once built.
    password_hashing: HashingPool = field(init=False)
    sign_in_throttle: SignInThrottle = field(init=False)
    users: UserDirectoryQueries = field(init=False)
    devices: DeviceQueries = field(init=False)
    service_keys: LoggedApiKeys = field(init=False)  # API keys, checked against the log
    contacts: ContactQueries = field(init=False)
    messaging: MessagingQueries = field(init=False)
    feed: FeedQueries = field(init=False)
    invitations: InvitationQueries = field(init=False)
    provider_health: ProviderHealthQueries = field(init=False)  # breakers, error rates
    contact_points: ContactPointQueries = field(init=False)
    notification_templates: TemplateQueries = field(init=False)
    notification_analytics: AnalyticsQueries = field(init=False)  # priced per the settings
    # each context's query objects over the read store alone, by class (manifest store_queries)
    store_queries: dict[type, object] = field(init=False)
    presence_audience: PresenceAudience = field(init=False)
    blobs: BlobStore = field(init=False)
    attachment_access: AttachmentAccess = field(init=False)
    audit: AuditLog = field(init=False)
    chain_check: ChainCheck = field(init=False)
    # the notification delivery engine's parts in this process (parley.notification_engine)
    notification_engine: NotificationEngine = field(init=False)
    inbox: InboxQueries = field(init=False)
    # the operators' tools over this process's stores, built on first use (parley.bootstrap)
    operations: Callable[[], Operations] = field(init=False)
    serving_generations: ServingGenerations = first_generations
    readiness: dict[str, Callable[[], Any]] = field(default_factory=dict)
    lag: Callable[[], dict[str, int]] = field(default=lambda: {})
    _starters: list[Callable[[], None]] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def direct_id_key(self) -> bytes:
        """Keys direct conversation ids (ADR 0009): PARLEY_DIRECT_ID_KEY, or else derived
        from the signing key, so ids cannot be computed from two handles."""
        return direct_id_key(self.settings, self.secret_key)

    @property
    def email_verification_key(self) -> bytes:
        """Signs email verification tokens (domain.notifications.email_verification)."""
        return email_verification_key(self.secret_key)

    @property
    def unsubscribe_key(self) -> bytes:
        """Signs one-click unsubscribe links (domain.notifications.unsubscribe)."""
        return unsubscribe_key(self.secret_key)

    def start(self) -> None:
        for start in self._starters:
            start()

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                log.exception("while closing")


PRIVATE_FILE, PRIVATE_DIRECTORY = 0o600, 0o700


def keep_private(data_dir: Path) -> None:
    """The embedded default's data (password hashes, every message) is its owner's alone.

    From here on this process creates files 0600 and directories 0700 (SQLite gives its WAL
    and SHM files the mode of their database); a data directory made by an older Parley, or
    with a laxer umask, is tightened once, with everything in it.
    """
    os.umask(0o077)
    data_dir.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    if data_dir.stat().st_mode & 0o077:
        for directory, subdirectories, files in os.walk(data_dir):  # symlinks not followed
            for name, mode in [(f, PRIVATE_FILE) for f in files] + [
                    (d, PRIVATE_DIRECTORY) for d in subdirectories]:
                if not Path(directory, name).is_symlink():
                    Path(directory, name).chmod(mode)
        data_dir.chmod(PRIVATE_DIRECTORY)


def direct_id_key(settings: Settings, secret_key: str) -> bytes:
    if settings.direct_id_key is not None:
        return settings.direct_id_key.get_secret_value().encode()
    return hmac.new(secret_key.encode(), b"parley/direct-conversation-ids/v1",
                    hashlib.sha256).digest()


def email_verification_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"parley/email-verification/v1",
                    hashlib.sha256).digest()


def unsubscribe_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"parley/email-unsubscribe/v1", hashlib.sha256).digest()


def embedded_secret(data_dir: Path, name: str = "secret_key") -> str:
    """The embedded default keeps a generated signing key beside its data, readable by owner."""
    path = data_dir / name
    if not path.exists():
        keep_private(data_dir)
        path.touch(mode=PRIVATE_FILE)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def event_log_env(settings: Settings) -> dict[str, str]:
    """The `eventsourcing` environment for the profile's persistence module."""
    common = {"AGGREGATE_CACHE_MAXSIZE": "20000", "DEEPCOPY_FROM_AGGREGATE_CACHE": "y"}
    if settings.profile == "production":
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(settings.database_url or "")
        return common | {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "adapters.event_log.chained_postgres:"
                                          "ChainedPostgresApplicationRecorder",
            "POSTGRES_DBNAME": str(info.get("dbname", "parley")),
            "POSTGRES_HOST": str(info.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(info.get("port", "5432")),
            "POSTGRES_USER": str(info.get("user", "parley")),
            "POSTGRES_PASSWORD": str(info.get("password", "")),
            "POSTGRES_SCHEMA": settings.namespace,
            "POSTGRES_POOL_SIZE": str(settings.pg_pool_size),
            # A command waits for a pooled connection at most its own bound (a whole number).
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, math.ceil(settings.command_timeout_seconds))),
            "CREATE_TABLE": "no",
        }
    keep_private(settings.data_dir)  # every embedded process opens its log through here
    return common | {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": "adapters.event_log.chained_sqlite:"
                                      "ChainedSQLiteApplicationRecorder",
        "SQLITE_DBNAME": str(settings.data_dir / "events.sqlite3"),
        "SQLITE_LOCK_TIMEOUT": "30",
    }


def chain_records(event_log: EventLog) -> ChainRecords:
    """The event log's hash chain and checkpoints, which its recorder keeps beside the events."""
    from adapters.event_log.chain_tables import ChainTables

    if not isinstance(event_log.recorder, ChainTables):
        raise TypeError("this event log's recorder keeps no hash chain (see event_log_env)")
    return cast(ChainRecords, event_log.recorder)


def audit_key(settings: Settings) -> bytes | None:
    """Signs chain checkpoints: PARLEY_AUDIT_KEY, or a key generated beside embedded data."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    if settings.profile == "production":
        return None
    return embedded_secret(settings.data_dir, "audit_key").encode()


def schedule_parts(settings: Settings, event_log: EventLog, *,
                   writer: CommandWriter | None = None, store: ReadStore | None = None,
                   signs_chain: bool = False) -> ScheduleParts:
    """What this process offers the contexts' schedules: the writer's commands and the read
    store if it holds the writer; the chain and its key if it is the one signing checkpoints."""
    execute = writer.execute if isinstance(writer, GroupCommitWriter) else None
    chain, key = None, None
    if signs_chain:
        key = audit_key(settings)
        if key is None:
            log.warning("PARLEY_AUDIT_KEY is not set: no chain checkpoints are signed")
        else:
            chain = chain_records(event_log)
    return ScheduleParts(settings, lambda: datetime.now(UTC), execute=execute,
                         store=store if execute is not None else None,
                         chain=chain, audit_key=key)


def schedule_jobs(parts: ScheduleParts) -> list[ScheduledJob]:
    """Every context's schedules this process can run, each a job on a thread of its own."""
    return [ScheduledJob(schedule) for schedule in contexts.schedules(parts)]


def attach_schedules(parley: Parley, *, signs_chain: bool) -> None:
    """The contexts' schedules run while the process runs (after attach_write_side)."""
    parts = schedule_parts(parley.settings, parley.event_log, writer=parley.writer,
                           store=parley.store, signs_chain=signs_chain)
    for job in schedule_jobs(parts):
        parley._starters.append(job.start)
        parley._closers.append(job.stop)


def attach_write_side(parley: Parley, on_commit: Callable[[int], None] | None = None) -> None:
    writer = GroupCommitWriter(
        parley.event_log,
        HANDLERS,
        max_batch=parley.settings.group_commit_max_batch,
        linger_seconds=parley.settings.group_commit_linger_ms / 1000,
        on_commit=on_commit,
        command_timeout=parley.settings.command_timeout_seconds,
    )
    parley.writer = writer
    parley._starters.append(writer.start)
    parley._closers.append(writer.stop)


def attach_queries(parley: Parley) -> None:
    parley.store_queries = {cls: cls(parley.store) for cls in contexts.store_queries()}
    parley.users = UserDirectoryQueries(parley.store)
    parley.devices = DeviceQueries(parley.store, parley.cache)
    parley.service_keys = LoggedApiKeys(parley.event_log.repository)
    parley.contacts = ContactQueries(parley.store)  # the contacts routes read it uncached
    parley.invitations = InvitationQueries(parley.store)
    parley.provider_health = ProviderHealthQueries(parley.store)
    parley.contact_points = ContactPointQueries(parley.store)
    parley.notification_templates = TemplateQueries(parley.store)
    parley.notification_analytics = AnalyticsQueries(parley.store, {
        name: Price(p.message_micros, p.segment_micros)
        for name, p in parley.settings.notification_prices.items()})
    stamped = StampedCache(parley.cache, parley.store, parley.serving_generations)
    memberships = Memberships(parley.store, stamped)
    contacts = ContactQueries(parley.store, stamped)
    parley.messaging = MessagingQueries(parley.store, memberships, contacts, stamped)
    parley.feed = FeedQueries(parley.store, memberships, contacts)
    parley.presence_audience = PresenceAudience(parley.users, memberships, contacts)
    parley.audit = audit_log(parley.event_log)
    parley.chain_check = ChainCheck(lambda: chain_records(parley.event_log),
                                    lambda: audit_key(parley.settings))



def audit_log(event_log: EventLog) -> AuditLog:
    """Audit queries read the event log itself (both profiles), never the read models."""
    from adapters.audit.log_reader import AuditLogReader

    return AuditLog(AuditLogReader(event_log))


def attach_attachments(parley: Parley) -> None:
    """Both profiles keep attachment bytes in a directory for now (see `BlobStore`)."""
    from adapters.messaging.filesystem_blob_store import FilesystemBlobStore

    settings = parley.settings
    parley.blobs = FilesystemBlobStore(settings.blob_directory)
    parley.upload_policy = UploadPolicy(settings.max_attachment_bytes,
                                        frozenset(settings.attachment_content_types))
    parley.upload_quota = UploadQuota(settings.max_unattached_uploads,
                                      settings.max_unattached_upload_bytes)
    parley.attachment_access = AttachmentReaders(UploaderOnly(parley.store), parley.messaging)


def attach_process_managers(parley: Parley, positions: ProcessPositions,
                            locks: ProcessLocks) -> None:
    """Each process manager tails the log on a thread of its own, in every process holding the
    writer; its lock lets one process at a time handle its events (after attach_attachments)."""
    from adapters.processes.log_reactions import ReactionsReader

    writer = parley.writer
    if not isinstance(writer, GroupCommitWriter):
        return
    from parley.notification_reactions import own_notification_effects

    def provided_kinds() -> frozenset[str] | None:  # the engine is attached after this
        engine = getattr(parley, "notification_engine", None)
        return None if engine is None else engine.provided_kinds

    own_notifications = own_notification_effects(
        parley.settings, writer, event_log=parley.event_log, presence=parley.presence,
        verification_key=parley.email_verification_key, provided_kinds=provided_kinds)
    context_effects = contexts.effects(EffectParts(
        parley.settings, lambda: datetime.now(UTC), writer.submit,
        writer.longest_answer_seconds))
    issue = IssueCommands(writer.submit, {**attachment_effects(parley.blobs),
                                          **own_notifications, **context_effects},
                          timeout=writer.longest_answer_seconds)
    for manager in contexts.process_managers():
        runner = ProcessManagerRunner(manager, ReactionsReader(parley.event_log, manager.reacts_to),
                                      positions, issue, locks,
                                      answer_timeout=writer.longest_answer_seconds)
        parley._starters.append(runner.start)
        parley._closers.append(runner.stop)


def backoff_rules(settings: Settings) -> tuple[BackoffRule, BackoffRule]:
    """Failed sign-ins: (per account, per client address)."""
    longest = settings.signin_backoff_max_seconds
    return (BackoffRule(settings.signin_free_failures, max_seconds=longest),
            BackoffRule(settings.signin_source_free_failures, max_seconds=longest))


def attach_sign_in(parley: Parley, attempts: RateLimiter, accounts: FailureBackoff,
                   sources: FailureBackoff) -> None:
    """Password hashing on its own bounded pool, the password policy, and the throttles."""
    from adapters.identity.argon2_passwords import Argon2Passwords
    from adapters.identity.common_passwords import common_passwords
    from adapters.identity.password_hashing import PasswordHashing

    settings = parley.settings
    hashing = PasswordHashing(Argon2Passwords(), settings.password_hash_workers,
                              settings.password_hash_queue)
    parley.password_hashing = hashing
    parley._closers.append(hashing.close)
    parley.password_policy = PasswordPolicy(common_passwords())
    digest_key = hmac.new(parley.secret_key.encode(), b"parley/sign-in-accounts/v1",
                          hashlib.sha256).digest()
    parley.sign_in_throttle = SignInThrottle(attempts, accounts, sources, digest_key)


def sign_in_attempts(settings: Settings) -> tuple[float, int]:
    """The per-address attempts bucket: (rate per second, burst)."""
    per_minute = settings.signin_attempts_per_minute
    return per_minute / 60, max(1, int(per_minute))


def read_models_path(settings: Settings) -> Path:
    return settings.data_dir / "read_models.sqlite3"


def attach_notification_engine(parley: Parley, queue: DispatchQueue,
                               positions: ProcessPositions, locks: ProcessLocks, *,
                               dispatch: bool,
                               dispatch_priorities: Sequence[str] = PRIORITIES,
                               ) -> NotificationEngine:
    """The engine runs while the process runs (after attach_write_side and attach_queries);
    with `dispatch`, its dispatchers take `dispatch_priorities`."""
    from parley.notification_engine import engine
    from projections.notifications.inbox import InboxQueries

    writer = parley.writer
    execute = writer.execute if isinstance(writer, GroupCommitWriter) else None
    parts = engine(parley.settings, parley.event_log, queue, execute, store=parley.store,
                   positions=positions, locks=locks, dispatch=dispatch,
                   dispatch_priorities=dispatch_priorities,
                   unsubscribe_key=parley.unsubscribe_key)
    parley.notification_engine = parts
    parley.inbox = InboxQueries(parley.store)
    parley._starters.append(parts.start)
    parley._closers.append(parts.stop)
    return parts
