"""Every setting Parley reads, from `PARLEY_*` environment variables, in one place."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.errors import InvalidCommand
from domain.identity.api_key_roster import DEFAULT_MAX_API_KEYS
from domain.identity.device_roster import DEFAULT_MAX_DEVICES
from domain.messaging.attachments import (
    DEFAULT_CONTENT_TYPES,
    DEFAULT_MAX_BYTES,
    DEFAULT_UNATTACHED_TTL_SECONDS,
)
from domain.messaging.invitations import DEFAULT_MAX_PENDING_INVITATIONS
from domain.messaging.messages import DEFAULT_MAX_EDITS
from domain.messaging.upload_quota import (
    DEFAULT_MAX_UNATTACHED_BYTES,
    DEFAULT_MAX_UNATTACHED_UPLOADS,
)
from domain.notifications.channels import CHANNELS, PRIORITIES
from domain.notifications.preferences import SWITCHABLE_CHANNELS
from domain.notifications.quiet_hours import time_zone
from domain.payments.limits import parse_limits
from domain.payments.money import DEFAULT_CURRENCIES as DEFAULT_PAYMENT_CURRENCIES
from domain.payments.money import currency_exponent
from domain.payments.risk import rule_set_from_document
from parley.signing_keys import key_weakness

PRODUCTION_VARIABLES = {
    "database_url": "PARLEY_DATABASE_URL",
    "kafka_bootstrap": "PARLEY_KAFKA_BOOTSTRAP",
    "elasticsearch_url": "PARLEY_ELASTICSEARCH_URL",
    "redis_url": "PARLEY_REDIS_URL",
}


class MissingSetting(Exception):
    """A production setting is absent; the message names the variable."""


def dispatch_priorities(named: str | Sequence[str], where: str) -> list[str]:
    """Notification priorities named in a comma-separated list (or a list), most urgent
    first and each once; none, or one that does not exist, is a ValueError naming `where`
    (the variable or option) and the priorities there are."""
    names = named.split(",") if isinstance(named, str) else list(named)
    chosen = {name.strip().lower() for name in names if name.strip()}
    unknown = sorted(chosen - set(PRIORITIES))
    if unknown or not chosen:
        problem = f"unknown priority {', '.join(unknown)!r}" if unknown else "no priority"
        raise ValueError(f"{where}: {problem} (choose from {', '.join(PRIORITIES)})")
    return [p for p in PRIORITIES if p in chosen]


class NotificationPrice(BaseModel):
    """A provider's price (PARLEY_NOTIFICATION_PRICES)."""

    model_config = ConfigDict(extra="forbid")
    message_micros: int = Field(0, ge=0, le=10**12)
    segment_micros: int = Field(0, ge=0, le=10**12)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    database_url: str | None = Field(None, description="PostgreSQL event store; enables production")
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers host:port")
    elasticsearch_url: str | None = Field(None, description="Elasticsearch base URL")
    redis_url: str | None = Field(None, description="Redis URL for the shared cache")
    data_dir: Path = Field(Path("var"), description="Embedded default: where SQLite files live")
    namespace: str = Field(
        "parley", pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="Prefix of Kafka topics, Elasticsearch indices and cache keys",
    )
    secret_key: SecretStr | None = Field(None, description="Signs bearer tokens")
    audit_key: SecretStr | None = Field(
        None, description="Signs checkpoints of the event log's hash chain (HMAC-SHA256)")
    direct_id_key: SecretStr | None = Field(
        None, description="Keys direct conversation ids (HMAC-SHA256); default derived from "
        "the signing key. Set once, never change (ADR 0009)")
    checkpoint_every_seconds: float = Field(
        60.0, gt=0, description="How often a moved chain head is signed (relay; embedded serve)")
    token_ttl_seconds: int = Field(30 * 24 * 3600, gt=0,
                                   description="Refresh-token lifetime")
    access_token_ttl_seconds: int = Field(15 * 60, gt=0, description="Access-token lifetime")
    max_devices_per_user: int = Field(
        DEFAULT_MAX_DEVICES, ge=1,
        description="Devices a user may have signed in; a sign-in beyond it signs out the least "
                    "recently used one")
    max_api_keys: int = Field(
        DEFAULT_MAX_API_KEYS, ge=1,
        description="API keys (service callers) live at once; `parley apikeys create` beyond "
                    "it is refused until one is revoked")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Parley's public base URL, as providers and "
        "browsers reach it (status callbacks and unsubscribe links point under it)")
    max_body_bytes: int = Field(64 * 1024, gt=0)
    consistency_wait_seconds: float = Field(2.0, ge=0)
    group_commit_max_batch: int = Field(256, gt=0)
    group_commit_linger_ms: float = Field(0.0, ge=0)
    pg_pool_size: int = Field(10, gt=0)
    command_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a command may wait for the event log (then 503)")
    cache_ttl_seconds: int = Field(30, gt=0)
    group_member_limit: int = Field(250, ge=2, le=100_000)
    max_pending_group_invitations: int = Field(
        DEFAULT_MAX_PENDING_INVITATIONS, ge=1,
        description="Pending group invitations one person may have; more are refused (409)")
    max_edits_per_message: int = Field(
        DEFAULT_MAX_EDITS, ge=0, description="How many times one message may be edited (then 409)")
    send_rate_per_second: float = Field(20.0, gt=0, description="Messages per user per second")
    send_burst: int = Field(60, ge=1, description="Messages a user may send at once")
    typing_rate_per_second: float = Field(
        1.0, gt=0, description="Typing indicators per user per second (HTTP and sockets)")
    typing_burst: int = Field(5, ge=1, description="Typing indicators a user may send at once")
    max_sockets_per_user: int = Field(
        10, ge=1, description="Live sockets one user may have open at once, across API "
                              "processes (then 1008)")
    max_frame_bytes: int = Field(
        4096, ge=256, description="Largest client WebSocket frame (then 1009)")
    signin_attempts_per_minute: float = Field(
        20.0, gt=0, description="Sign-in, registration and refresh attempts per client address "
                                "per minute (each its own bucket; as many at once)")
    signin_free_failures: int = Field(
        5, ge=0, description="Failed sign-ins (or refreshes) of one account before backoff")
    signin_source_free_failures: int = Field(
        50, ge=0, description="Failed sign-ins (or refreshes) from one address before backoff")
    signin_backoff_max_seconds: float = Field(
        900.0, gt=0, description="The longest backoff lock (it doubles from 1 s per failure)")
    password_hash_workers: int = Field(
        2, ge=1, description="Threads that hash passwords (argon2, 64 MiB each while hashing)")
    password_hash_queue: int = Field(
        16, ge=0, description="Hashes that may wait for a worker; beyond, sign-in answers 503")
    log_level: str = "INFO"
    gc_young_threshold: int = Field(
        50_000, ge=0, le=10_000_000,
        description="Allocations between collections of the youngest generation in the "
                    "long-running processes, after start-up is frozen (0: Python's 700)")
    projector_instance_id: str | None = Field(
        None, description="Static Kafka group member id of this projector process (default: "
        "<host>-projectors; empty: a dynamic member); one per process of a namespace")
    projection_failure_policy: Literal["park", "halt"] = Field(
        "park", description="An event a projector fails on: park it and go on, or halt there")
    blob_dir: Path | None = Field(None, description="Attachment bytes; default <data_dir>/blobs")
    max_attachment_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    max_unattached_uploads: int = Field(
        DEFAULT_MAX_UNATTACHED_UPLOADS, ge=1,
        description="Uploads one person may hold that were not sent in a message yet")
    max_unattached_upload_bytes: int = Field(
        DEFAULT_MAX_UNATTACHED_BYTES, ge=1,
        description="Bytes of uploads one person may hold that were not sent in a message yet")
    unattached_upload_ttl_seconds: float = Field(
        DEFAULT_UNATTACHED_TTL_SECONDS, gt=0,
        description="How long an upload never sent in a message is kept; then it expires")
    attachment_sweep_every_seconds: float = Field(
        300.0, gt=0, description="How often a serving process expires and deletes old uploads")
    # circuit breakers per notification provider (domain/notifications/circuits.py)
    breaker_window_seconds: float = Field(
        30.0, ge=1, description="A provider's breaker counts the answers of this rolling window")
    breaker_min_calls: int = Field(
        10, ge=1, description="Answers in the window before a provider's breaker may open")
    breaker_failure_rate: float = Field(
        0.5, gt=0, le=1, description="Share of unwell answers (timeouts, dropped connections, "
        "5xx, 429) in the window that opens a provider's breaker")
    breaker_open_seconds: float = Field(
        15.0, gt=0, description="How long an open breaker sends nothing to its provider")
    breaker_half_open_probes: int = Field(
        3, ge=1, description="Calls a half-open breaker lets through; all healthy: it closes")
    attachment_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES),
        description="Comma-separated media types attachments may have",
    )

    # notifications: the delivery engine (issue 11)
    notification_providers: SecretStr | None = Field(
        None, description="JSON list of notification provider entries, each "
        '{"name": ..., "kind": fcm|apns|webpush|smtp|twilio|vonage|webhook, ...} '
        "(adapters/notifications/registry.py; README, Notifications); secret: never logged")
    notification_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["message", "mention", "friend_request", "security",
                                 "account", "payment", "marketing", "system"],
        description="Comma-separated categories a notification may have")
    notification_max_attempts: int = Field(
        6, ge=1, le=50, description="Attempts per channel before it falls back or dead-letters")
    notification_retry_base_seconds: float = Field(
        2.0, gt=0, description="Backoff base: attempt n waits random(0, min(cap, base*2^n))")
    notification_retry_cap_seconds: float = Field(
        600.0, gt=0, description="The longest wait between two attempts")
    notification_timer_every_seconds: float = Field(
        0.25, gt=0, description="How often due timers (send_at, retries, fallbacks) are released")
    notification_sweep_every_seconds: float = Field(
        5.0, gt=0, description="How often lost dispatch jobs are looked for")
    notification_requeue_after_seconds: float = Field(
        30.0, gt=0, description="A notification queued this long without a dispatcher taking "
                                "it is queued again")
    notification_stale_after_seconds: float = Field(
        60.0, gt=0, description="A dispatch unanswered this long is sent again (same attempt "
                                "ids: providers de-duplicate)")
    notification_dispatch_batch: int = Field(100, ge=1, le=1000,
                                             description="Notifications a dispatcher takes at once")
    notification_urgent_pumps: int = Field(
        2, ge=1, le=64, description="Dispatcher threads serving only critical and high")
    notification_pumps: int = Field(
        2, ge=1, le=64, description="Dispatcher threads serving every priority, most urgent first")
    notification_dispatch_in_api: bool = Field(
        True, description="Production: API processes (parley serve) run dispatchers too; false "
        "leaves dispatching to `parley dispatch` processes")
    notification_dispatch_priorities: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(PRIORITIES), description="Production: the priorities "
        "an API process's dispatchers take, comma-separated (`parley dispatch --priorities` "
        "chooses its own)")
    notification_allow_loopback_http: bool = Field(
        False, description="Tests only: let endpoints be plain http:// on 127.0.0.1")
    # notifications: dedup keys and digests (domain/notifications/dedup.py, digests.py)
    notification_dedup_window_seconds: int = Field(
        3600, ge=1, le=366 * 86400, description="How long a trigger's dedup_key holds (the same "
        "key for the same recipient is suppressed) when it names no dedup_window_seconds")
    notification_dedup_legacy_keys: bool = Field(
        False, description="Also read the per-recipient dedup keys earlier versions "
        "claimed (DedupKey; set it for as long as such claims may be within their windows after "
        "upgrading: at most notification_dedup_max_window_seconds)")
    notification_dedup_max_window_seconds: int = Field(
        30 * 86400, ge=1, le=366 * 86400,
        description="The longest dedup_window_seconds a trigger may ask for")
    notification_digest_windows: dict[str, Annotated[int, Field(ge=1, le=30 * 86400)]] = Field(
        default_factory=dict, description='JSON {category: seconds}: notifications of these '
        "categories are collapsed into one digest per recipient (and digest key: the "
        "category's name unless the trigger names one) over this window; critical ones never")
    notification_digest_max_window_seconds: int = Field(
        86400, ge=1, le=30 * 86400,
        description="The longest digest window_seconds a trigger may ask for")
    notification_digest_max_members: int = Field(
        100, ge=2, le=1000, description="Notifications one digest collects; the one that "
        "reaches it flushes the digest at once and the next opens a new one (none is dropped)")
    notification_digest_max_open: int = Field(
        50, ge=1, le=10_000, description="Digests one caller (API key, or Parley's own) may "
        "have open for one recipient at once (one per digest key); a notification that would "
        "open one more is sent on its own, undigested")
    # notifications: throttles at dispatch (domain/notifications/throttles.py)
    notification_recipient_limit: int = Field(
        60, ge=0, le=100_000, description="Non-critical notifications one recipient is sent "
        "per period, across all channels (chat pushes too); more are held until the budget "
        "refills (0: no limit)")
    notification_recipient_period_seconds: float = Field(
        3600.0, gt=0, le=366 * 86400, description="The period of the recipient limit")
    notification_recipient_bulk_per_day: int = Field(
        0, ge=0, le=100_000, description="Bulk notifications one recipient is sent per day; "
        "more are suppressed, with the reason (0: no cap)")
    notification_channel_rates: dict[str, float] = Field(
        default_factory=dict, description='JSON {channel: sends per second} for the whole '
        'deployment, e.g. {"sms": 10}; beyond it sends wait, critical ones first')
    # notifications: templates (domain/notifications/templates.py)
    notification_template_variables: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "message": ["sender_name", "conversation_name", "preview"],
            "mention": ["sender_name", "conversation_name", "preview"],
            "friend_request": ["sender_name"],
            "security": ["event", "device", "location"],
            "account": ["display_name", "link"],
            "payment": ["amount", "currency", "description"],
            "marketing": ["display_name", "link"],
            "system": ["title", "body", "link"]},
        description='JSON {category: [variable, ...]}: the variables a template of each '
        'category may read (templates are checked against them when saved)')
    # notifications: SMS consent (TCPA), the answers to a handset's keywords
    sms_help_text: str = Field(
        "Parley: account and message alerts. Msg&data rates may apply. Reply STOP to cancel.",
        min_length=1, max_length=320, description="The answer to HELP or INFO texted to one "
        "of the numbers (carriers want the program's name, a contact and how to opt out)")
    sms_stop_text: str = Field(
        "Parley: you are unsubscribed and will get no more messages. Reply START to "
        "resubscribe.", min_length=1, max_length=320,
        description="The one confirmation of a STOP (or its synonyms)")
    sms_start_text: str = Field(
        "Parley: you are resubscribed. Reply HELP for help, STOP to cancel.",
        min_length=1, max_length=320, description="The confirmation of a START (YES, UNSTOP) "
        "that restores a withdrawn consent")
    # notifications: analytics (projections/notifications/analytics_report.py)
    notification_prices: dict[str, NotificationPrice] = Field(
        default_factory=dict, description='JSON {provider: {"message_micros": N, '
        '"segment_micros": N}}: what a provider charges per accepted message and per SMS '
        "segment, in millionths of the currency unit; the analytics' cost uses it instead of "
        "what the provider reports (Twilio and Vonage report a price, the others none)")
    # notifications: clicks (domain/notifications/tracked_links.py)
    notification_link_tracking: bool = Field(
        True, description="Send each http(s) link of an email as a tracked link under "
        "PARLEY_PUBLIC_URL, which records the click and redirects to it (false: emails carry "
        "their links as they are; links already sent keep working)")
    # notifications: preferences, quiet hours, the SMS window (domain/notifications/
    # preference_steps.py)
    notification_category_defaults: dict[str, dict[str, bool]] = Field(
        default_factory=dict, description='JSON {category: {channel: on}}: the operator\'s '
        'default per category x channel before a user chooses, e.g. {"marketing": {"sms": '
        'false}}; a pair not named is on')
    notification_critical_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["security", "payment"], description="Comma-separated "
        "categories that bypass opt-outs, quiet hours, throttles and digests (never "
        "reachability)")
    notification_transactional_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["security", "payment", "account"], description="Comma-"
        "separated categories whose SMS may go at any hour (others: only 08:00-21:00 "
        "recipient-local); critical ones always are")
    notification_default_time_zone: str = Field(
        "UTC", description="IANA zone of a recipient who set none: their quiet hours and "
        "the SMS window are read in it")
    notification_max_preferences_per_user: int = Field(
        200, ge=1, le=10_000, description="Category x channel choices one user may keep; "
        "more are refused (422)")
    # notifications: contact points (where a user can be reached)
    max_contact_points_per_user: int = Field(
        20, ge=1, le=1000, description="Contact points (email addresses, numbers, push "
        "registrations, webhooks) one user may have; one more is refused (409)")
    email_verification_ttl_seconds: int = Field(
        3 * 24 * 3600, ge=60, description="How long an email verification link stays valid")
    # notifications: Parley's own (commands/notifications/reactions.py)
    message_email_fallback_seconds: int = Field(
        900, ge=0, description="A new message's push falls back to email if neither "
        "delivered nor read within this many seconds")
    message_digest_window_seconds: int = Field(
        0, ge=0, le=86400, description="Parley's own message notifications (not mentions) "
        "collapse into one per recipient and conversation over this window ('3 new messages "
        "in Book club'); 0: each message notified alone")
    message_preview_chars: int = Field(
        100, ge=1, le=1000, description="How much of a new message's text its push shows")
    own_notification_max_age_seconds: int = Field(
        24 * 3600, ge=1, description="A message or friend request older than this when its "
        "process manager reaches it (a first run over an old log) is not notified")

    # payments (domain/payments/, commands/payments/)
    payment_currencies: Annotated[list[str], NoDecode] = Field(
        list(DEFAULT_PAYMENT_CURRENCIES), description="ISO 4217 currencies wallets may hold "
        "(comma-separated); each needs limits for a tier to send in it")
    payment_limits: str = Field(
        "", description="Limits per tier and currency in minor units, per payment / 24 h / "
        "30 days, e.g. 'unverified:USD=50000/100000/300000;verified:USD=500000/1000000/"
        "3000000' (domain/payments/limits.py); empty: the defaults there")
    payment_hold_seconds: int = Field(
        600, ge=10, le=7 * 24 * 3600, description="A payment's hold not settled within this "
        "many seconds (e.g. one waiting for review) is voided, and the payment fails")
    payment_fee_basis_points: int = Field(
        0, ge=0, le=1000, description="The sender's fee per payment, in hundredths of a "
        "percent of the amount (rounded down), to the fees account")
    payment_request_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=60, le=90 * 24 * 3600,
        description="A money request not accepted or declined within this many seconds expires")
    payment_rules: str = Field(
        "", description="The fraud rules' defaults as a JSON rule-set document (until an "
        "admin publishes one: PUT /v1/admin/payments/rules); empty: domain/payments/risk.py's")
    payment_timer_every_seconds: float = Field(
        5.0, gt=0, le=3600, description="How often holds and requests past their end are "
        "looked for")
    payment_processor_url: str | None = Field(
        None, description="The card processor's API base URL (Stripe-shaped); unset: no "
        "funding or payouts")
    payment_processor_secret_key: SecretStr | None = Field(
        None, description="The card processor's secret API key")
    payment_webhook_secrets: SecretStr | None = Field(
        None, description="Secrets the processor signs webhooks with (Stripe-Signature), "
        "comma-separated while one is rotated")
    payment_processor_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="How long a call to the card processor may take")

    @field_validator("payment_currencies", mode="before")
    @classmethod
    def _currency_codes(cls, value: Any) -> Any:
        codes = ([c.strip().upper() for c in value.split(",") if c.strip()]
                 if isinstance(value, str) else value)
        try:
            for code in codes:
                currency_exponent(code)
        except InvalidCommand as error:
            raise ValueError(f"PARLEY_PAYMENT_CURRENCIES: {error}") from error
        return codes

    @field_validator("payment_limits")
    @classmethod
    def _payment_limits(cls, value: str) -> str:
        if value.strip():
            parse_limits(value)
        return value

    @field_validator("payment_rules")
    @classmethod
    def _payment_rules(cls, value: str) -> str:
        """A rule set the risk engine can evaluate, or refused at start (never at the first
        payment)."""
        if value.strip():
            try:
                rule_set_from_document(json.loads(value))
            except (ValueError, InvalidCommand) as error:
                raise ValueError(f"PARLEY_PAYMENT_RULES: {error}") from error
        return value

    @field_validator("attachment_content_types", "notification_categories", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip().lower() for t in value.split(",") if t.strip()]
        return value

    @field_validator("notification_channel_rates")
    @classmethod
    def _channel_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for channel, rate in value.items():
            if channel not in CHANNELS:
                raise ValueError(f"PARLEY_NOTIFICATION_CHANNEL_RATES: unknown channel "
                                 f"(one of {', '.join(CHANNELS)})")
            if not (0 < rate < float("inf")):
                raise ValueError("PARLEY_NOTIFICATION_CHANNEL_RATES: a rate must be a "
                                 "positive number of sends per second")
        return value

    @field_validator("notification_critical_categories",
                     "notification_transactional_categories", mode="before")
    @classmethod
    def _category_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip().lower() for t in value.split(",") if t.strip()]
        return value

    @field_validator("notification_category_defaults")
    @classmethod
    def _category_defaults(cls, value: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
        for channels in value.values():
            for channel in channels:
                if channel not in SWITCHABLE_CHANNELS:
                    raise ValueError("PARLEY_NOTIFICATION_CATEGORY_DEFAULTS: unknown channel "
                                     f"{channel!r} (one of {', '.join(SWITCHABLE_CHANNELS)})")
        return value

    @field_validator("notification_default_time_zone")
    @classmethod
    def _default_zone(cls, value: str) -> str:
        try:
            time_zone(value)
        except InvalidCommand as error:
            raise ValueError("PARLEY_NOTIFICATION_DEFAULT_TIME_ZONE: an IANA time zone name, "
                             "e.g. Europe/London") from error
        return value

    @field_validator("notification_dispatch_priorities", mode="before")
    @classmethod
    def _known_priorities(cls, value: Any) -> Any:
        if isinstance(value, str | list | tuple):
            return dispatch_priorities(value, "PARLEY_NOTIFICATION_DISPATCH_PRIORITIES")
        return value

    @field_validator("secret_key", "audit_key", "direct_id_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A guessable key lets anyone forge tokens (or re-sign a rewritten log): refused.
        An empty variable is an unset one."""
        if value is None or not value.get_secret_value():
            return None
        weakness = key_weakness(value.get_secret_value())
        if weakness is not None:
            variable = f"PARLEY_{str(info.field_name).upper()}"
            raise ValueError(f"{variable} {weakness}; make a strong one with: "
                             f"export {variable}=$(parley secrets generate)")
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        """An http(s) URL with a host and nothing after its path (kept without a trailing
        slash): what callback and unsubscribe URLs are made from and checked against."""
        url = value.strip().rstrip("/")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError as error:
            raise ValueError("PARLEY_PUBLIC_URL is not a valid URL") from error
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("PARLEY_PUBLIC_URL must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("PARLEY_PUBLIC_URL must have no query, fragment or user name")
        return url

    @property
    def blob_directory(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def profile(self) -> str:
        return "production" if self.database_url else "embedded"

    def require_production(self) -> None:
        for attribute, variable in PRODUCTION_VARIABLES.items():
            if not getattr(self, attribute):
                raise MissingSetting(f"{variable} is not set (production needs all of "
                                     f"{', '.join(PRODUCTION_VARIABLES.values())})")
