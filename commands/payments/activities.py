"""Each person's payment activity (what they sent and received recently), started on first use."""

from __future__ import annotations

from uuid import UUID

from domain.payments.activity import PaymentActivity, activity_id
from event_log.aggregate import Cause
from event_log.batch import Batch


def activity_of(batch: Batch, user_id: UUID, cause: Cause) -> PaymentActivity:
    found = batch.find(PaymentActivity, activity_id(user_id))
    if found is None:
        found = PaymentActivity.start(user_id, cause)
        batch.add(found)
    return found
