"""Receipts of commands sent with an idempotency key, so a retry returns the first result."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.utils import get_topic, resolve_topic

from domain.errors import Conflict
from event_log.aggregate import Cause, ParleyAggregate

RECEIPT_NAMESPACE = UUID("b4e2d0c9-5f3a-4e61-8c7b-2d9e1f0a6b43")


class IdempotencyKeyReused(Conflict):
    """The same key came back with a different request."""


def receipt_id(actor_id: UUID, key: str) -> UUID:
    """Keys are scoped to the caller: two users may pick the same key."""
    return uuid5(RECEIPT_NAMESPACE, f"{actor_id}:{key}")


@dataclass(frozen=True)
class RecordedAnswer:
    """The first result of a command keyed before results were typed: version 1 receipts
    stored the HTTP status and JSON body it was answered with, and a retry is answered the
    same (the API maps it to exactly that status and body)."""

    status: int
    body: dict[str, Any]


def result_fields(result: object) -> dict[str, Any]:
    """A typed result's fields, as a receipt stores them (the transcoder encodes the values)."""
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise TypeError(f"a command result is a dataclass instance, not {type(result)!r}")
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def result_from(topic: str, fields: dict[str, Any]) -> object:
    """The typed result a receipt stored; JSON turned its tuples into lists, so they are
    tuples again."""
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{topic} is not a command result")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


class CommandReceipt(ParleyAggregate):
    """The first result of a keyed command."""

    def __init__(self, fingerprint: str, result_topic: str, result: dict[str, Any]) -> None:
        self.fingerprint = fingerprint
        self.result_topic = result_topic
        self.result = dict(result)

    class Issued(ParleyAggregate.Created):
        """Version 2 holds the typed result: its class (as a topic) and its fields. Version 1
        held an HTTP status and body; it is read as a `RecordedAnswer` of them."""

        class_version = 2
        fingerprint: str
        result_topic: str
        result: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["result_topic"] = get_topic(RecordedAnswer)
            state["result"] = {"status": state.pop("status"), "body": state.pop("body")}

    @classmethod
    def issue(cls, id: UUID, fingerprint: str, result: object, cause: Cause) -> CommandReceipt:
        return cls._create(
            cls.Issued, id=id, fingerprint=fingerprint, result_topic=get_topic(type(result)),
            result=result_fields(result), **cause.as_event_fields(),
        )

    def replay_for(self, fingerprint: str) -> object:
        """The first result, for a retry of the same request."""
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "Idempotency-Key", "this Idempotency-Key was used for a different request"
            )
        return result_from(self.result_topic, self.result)
