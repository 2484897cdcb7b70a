"""The error vocabulary every context shares: the bases each context's errors subclass
(domain/<context>/errors.py), and the text-policy errors domain/text.py raises. The API maps
each base to one HTTP answer (api/http/problems.py); a context refines its own errors'
answers (api/<context>/problems.py, declared in its manifest)."""


class DomainError(Exception):
    """A command broke a rule of the domain; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class Conflict(DomainError):
    """The command contradicts what already happened."""


class InvalidCommand(DomainError):
    """The command's content breaks a rule (too long, malformed, ...)."""


class NotAllowed(DomainError):
    """A member tried something their role does not permit."""


class Unauthenticated(DomainError):
    """The caller could not prove who they are (reported as 401)."""


class DisallowedText(InvalidCommand):
    """Text with characters that spoof what others see: bidi controls, piled-up combining
    marks, invisible characters in a name."""


class UnsafeReference(InvalidCommand):
    """An avatar or photo reference that is neither an opaque key nor an http(s) URL."""
