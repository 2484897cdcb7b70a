"""The notifications context's errors, each a case of a shared base (domain/errors.py)."""

from domain.errors import Conflict, InvalidCommand, NotFound


class NotificationNotFound(NotFound):
    """No such notification, or not the caller's."""


class UnknownRecipient(InvalidCommand):
    """A recipient of a trigger is not a user."""


class UnknownCategory(InvalidCommand):
    """A category the deployment does not define."""


class UnknownChannel(InvalidCommand):
    """A channel that does not exist."""


class ContentTooLarge(InvalidCommand):
    """Content beyond what a channel of its plan can carry."""


class BadSchedule(InvalidCommand):
    """A send_at in the past or too far ahead."""


class CancellationKeyFull(Conflict):
    """Too many notifications under one cancellation key."""
