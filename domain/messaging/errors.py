"""Messaging's rule violations: conversations, groups, messages and attachments.

Each subclasses a base of domain/errors.py, which the API maps to an HTTP answer;
api/messaging/problems.py refines some."""

from domain.errors import Conflict, InvalidCommand, NotFound


class NotAMember(NotFound):
    """The caller is not a member of the conversation (reported as not found)."""


class ConversationNotFound(NotFound):
    """No such conversation."""


class MessageTooLong(InvalidCommand):
    """The message text is longer than the limit."""


class CannotTalkToSelf(InvalidCommand):
    """A direct conversation needs two different people."""


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
