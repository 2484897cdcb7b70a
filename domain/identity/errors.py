"""Identity's rule violations: handles, users and the password policy.

Each subclasses a base of domain/errors.py, which the API maps to an HTTP answer;
api/identity/problems.py refines some."""

from domain.errors import Conflict, InvalidCommand, NotFound


class HandleTaken(Conflict):
    """Another user already registered this handle."""


class ReservedHandle(InvalidCommand):
    """The handle looks like Parley's own staff (admin, support, ...): nobody may register it."""


class UserNotFound(NotFound):
    """No such user."""


class WeakPassword(InvalidCommand):
    """A new password breaks the password policy (domain/identity/passwords.py); reported as 422.

    `rule` names which rule, so a client can say what to change."""

    rule = "weak_password"


class PasswordLengthOutOfBounds(WeakPassword):
    """Shorter than 8 or longer than 128 characters."""

    rule = "password_length"


class CommonPassword(WeakPassword):
    """On the bundled list of common and breached passwords."""

    rule = "common_password"


class PasswordFromContext(WeakPassword):
    """Made mostly of the handle, the name or the service's name."""

    rule = "context_password"


class TrivialPassword(WeakPassword):
    """One character repeated, a short unit repeated, or a plain sequence such as 12345678."""

    rule = "trivial_password"
