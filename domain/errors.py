"""Rule violations raised by the domain; the API maps each class to one HTTP answer."""


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


class HandleTaken(Conflict):
    """Another user already registered this handle."""


class ReservedHandle(InvalidCommand):
    """The handle looks like Parley's own staff (admin, support, ...): nobody may register it."""


class DisallowedText(InvalidCommand):
    """Text with characters that spoof what others see: bidi controls, piled-up combining
    marks, invisible characters in a name."""


class UnsafeReference(InvalidCommand):
    """An avatar or photo reference that is neither an opaque key nor an http(s) URL."""


class NotAMember(NotFound):
    """The caller is not a member of the conversation (reported as not found)."""


class ConversationNotFound(NotFound):
    """No such conversation."""


class UserNotFound(NotFound):
    """No such user."""


class MessageTooLong(InvalidCommand):
    """The message text is longer than the limit."""


class CannotTalkToSelf(InvalidCommand):
    """A direct conversation needs two different people."""


class NotAllowed(DomainError):
    """A member tried something their role does not permit."""


class GroupFull(InvalidCommand):
    """The group would exceed its member limit."""


class MessageNotFound(NotFound):
    """No such message, or not one the caller can see."""


class MessageUnsent(Conflict):
    """The message was unsent; it can no longer change."""


class TooManyInvitations(Conflict):
    """The invitee has as many pending group invitations as they may (reported as 409)."""


class TooManyEdits(Conflict):
    """The message was already edited as many times as a message may be (reported as 409)."""


class Unauthenticated(DomainError):
    """The caller could not prove who they are (reported as 401)."""


class AttachmentNotFound(NotFound):
    """No such attachment, or not one the caller may use or read."""


class AttachmentTooLarge(InvalidCommand):
    """The upload is bigger than the attachment size limit (reported as 413)."""


class UploadQuotaExceeded(InvalidCommand):
    """The uploader holds as many unattached uploads (or bytes of them) as they may (413)."""


class UnsupportedAttachmentType(InvalidCommand):
    """The declared content type is not one attachments may have (reported as 415)."""


class AttachmentContentMismatch(InvalidCommand):
    """The bytes are not what the declared content type says they are (reported as 422)."""


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
