"""The roster of every API key issued, so that at most a set number are live at once.

One aggregate for the whole server: two keys issued at the same moment by two processes
conflict on it and are decided again on fresh state, so the limit holds exactly. It also lists
every key ever issued, which is how the operator's shell lists them straight from the log.
Write-side bookkeeping: this module is kept in the event log only.
"""

from __future__ import annotations

from uuid import uuid5

from domain.errors import Conflict, InvalidCommand
from domain.identity.api_keys import API_KEY_NAMESPACE
from event_log.aggregate import Cause, ParleyAggregate

DEFAULT_MAX_API_KEYS = 100
API_KEY_ROSTER_ID = uuid5(API_KEY_NAMESPACE, "the roster of API keys")


class TooManyApiKeys(Conflict):
    """As many keys are live as the limit allows: revoke one first."""


class ApiKeyRoster(ParleyAggregate):
    """Every key issued (oldest first) and which of them are still live."""

    def __init__(self) -> None:
        self.issued: tuple[str, ...] = ()
        self.live: frozenset[str] = frozenset()

    class Started(ParleyAggregate.Created):
        pass

    class KeyAdmitted(ParleyAggregate.Event):
        key_id: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, ApiKeyRoster)
            aggregate.issued = (*aggregate.issued, self.key_id)
            aggregate.live = aggregate.live | {self.key_id}

    class KeyRetired(ParleyAggregate.Event):
        key_id: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, ApiKeyRoster)
            aggregate.live = aggregate.live - {self.key_id}

    @classmethod
    def start(cls, cause: Cause) -> ApiKeyRoster:
        return cls._create(cls.Started, id=API_KEY_ROSTER_ID, **cause.as_event_fields())

    def admit(self, key_id: str, max_live: int, cause: Cause) -> None:
        """A new key joins the live ones, if fewer than `max_live` are."""
        if max_live < 1:
            raise InvalidCommand("max_api_keys", "at least one key must be allowed")
        if key_id in self.issued:
            raise InvalidCommand("key_id", "this key id was issued already")
        if len(self.live) >= max_live:
            raise TooManyApiKeys("name", f"{max_live} API keys are live, as many as "
                                         "PARLEY_MAX_API_KEYS allows: revoke one first")
        self.trigger_event(self.KeyAdmitted, key_id=key_id, **cause.as_event_fields())

    def retire(self, key_id: str, cause: Cause) -> None:
        """A revoked key no longer counts against the limit."""
        if key_id in self.live:
            self.trigger_event(self.KeyRetired, key_id=key_id, **cause.as_event_fields())

