"""Every setting Parley reads, from `PARLEY_*` environment variables, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.attachments import DEFAULT_CONTENT_TYPES, DEFAULT_MAX_BYTES
from domain.messages import DEFAULT_MAX_EDITS

PRODUCTION_VARIABLES = {
    "database_url": "PARLEY_DATABASE_URL",
    "kafka_bootstrap": "PARLEY_KAFKA_BOOTSTRAP",
    "elasticsearch_url": "PARLEY_ELASTICSEARCH_URL",
    "redis_url": "PARLEY_REDIS_URL",
}


class MissingSetting(Exception):
    """A production setting is absent; the message names the variable."""


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
    checkpoint_every_seconds: float = Field(
        60.0, gt=0, description="How often a moved chain head is signed (relay; embedded serve)")
    token_ttl_seconds: int = Field(30 * 24 * 3600, gt=0,
                                   description="Refresh-token lifetime")
    access_token_ttl_seconds: int = Field(15 * 60, gt=0, description="Access-token lifetime")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(64 * 1024, gt=0)
    consistency_wait_seconds: float = Field(2.0, ge=0)
    group_commit_max_batch: int = Field(256, gt=0)
    group_commit_linger_ms: float = Field(0.0, ge=0)
    pg_pool_size: int = Field(10, gt=0)
    cache_ttl_seconds: int = Field(30, gt=0)
    group_member_limit: int = Field(250, ge=2, le=100_000)
    max_edits_per_message: int = Field(
        DEFAULT_MAX_EDITS, ge=0, description="How many times one message may be edited (then 409)")
    send_rate_per_second: float = Field(20.0, gt=0, description="Messages per user per second")
    send_burst: int = Field(60, ge=1, description="Messages a user may send at once")
    log_level: str = "INFO"
    projection_failure_policy: Literal["park", "halt"] = Field(
        "park", description="An event a projector fails on: park it and go on, or halt there")
    blob_dir: Path | None = Field(None, description="Attachment bytes; default <data_dir>/blobs")
    max_attachment_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    attachment_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES),
        description="Comma-separated media types attachments may have",
    )

    @field_validator("attachment_content_types", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip().lower() for t in value.split(",") if t.strip()]
        return value

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
