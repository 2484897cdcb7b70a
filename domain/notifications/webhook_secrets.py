"""The signing secrets of a user's webhook endpoints, as events of their ContactPoints
aggregate (domain/notifications/contact_points.py).

They live in a module of their own because secrets stay in the event log: this module is
never relayed (the manifest lists it under `log_only_event_modules`), while the contact points'
other events feed the listing read model. The server makes every secret
(`domain.notifications.endpoints.new_signing_secret`); after a rotation the previous one stays
valid for a while, so receivers can switch without losing a delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from event_log.aggregate import ParleyAggregate

ROTATION_OVERLAP: Final = timedelta(hours=24)
SECRET: Final = "secret"
PREVIOUS_SECRET: Final = "previous_secret"


class WebhookSecrets:
    """The events that give a webhook endpoint its signing secrets."""

    class WebhookSecretIssued(ParleyAggregate.Event):
        """The endpoint's first secret, as it was added."""

        contact_point_id: UUID
        secret: str

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id].keys = {SECRET: self.secret}

    class WebhookSecretRotated(ParleyAggregate.Event):
        """A new secret; the one it replaces is still valid until `previous_valid_until`
        (any secret before that one is valid no more)."""

        contact_point_id: UUID
        secret: str
        previous_secret: str
        previous_valid_until: datetime
        at: datetime

        def apply(self, aggregate: Any) -> None:
            point = aggregate.points[self.contact_point_id]
            point.keys = {SECRET: self.secret, PREVIOUS_SECRET: self.previous_secret}
            point.previous_valid_until = self.previous_valid_until


def valid_secrets(keys: dict[str, str], previous_valid_until: datetime | None,
                  now: datetime) -> dict[str, str]:
    """The secrets a delivery is signed with at `now`: the current one, and the previous one
    while its overlap lasts."""
    valid = {SECRET: keys[SECRET]} if SECRET in keys else {}
    if PREVIOUS_SECRET in keys and previous_valid_until is not None and now < previous_valid_until:
        valid[PREVIOUS_SECRET] = keys[PREVIOUS_SECRET]
    return valid
