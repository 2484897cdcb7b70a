"""Parley's own notifications: process managers on the log that ask the engine to notify
people of what happened to them elsewhere in Parley (ADR 0012).

- A new message notifies every member of its conversation but the sender: a push with a
  preview and an email if the push is neither delivered nor read within
  `message_email_fallback_seconds` (category "message", priority normal); a member it
  mentions gets it as a "mention", priority high. A member with a live socket open gets no
  push (the message reached their screen through the socket), nor does one who blocked the
  sender (their feed leaves the sender's messages out: a preview would show one).
- A friend request notifies its addressee (category "friend_request": push and inbox).
- An email address added to someone's contact points is sent its verification link, to that
  one address although it is unverified (category "account", priority high); added again
  while still unverified (ContactPoints.EmailVerificationRequested), a new link.
- (A signed-out device's push registrations go with it: `SignedOutDevices`,
  commands/notifications/signed_out_devices.py.)

Where the I/O sits. A process manager is pure (event in, commands out), but two things here
are not in any event: whether someone has a live socket "now", and what only the composition
root knows (the address kinds the configured providers reach, the deployment's categories,
its public URL and the key verification tokens are signed with). Each manager therefore
answers an *effect* (`NotifyNewMessage`, `NotifyFriendRequest`, `SendEmailVerification`),
which `IssueCommands` hands to the port built here (`reaction_effects`): it asks what it must
ask, then submits one write-side command under the same idempotency key and the cause the
runner gives (an effect is handed no cause, so the effect command carries the one
`cause_of(manager, event)` makes). The write-side handler decides with the aggregates in its
batch: the conversation's members now (not in the event), the sender's display name, whether
the email address is still there and unverified.

Live sockets are checked at reaction time, by the effect, and the answer is an input of the
decision, not the decision: the handler still makes one notification per recipient, and a
recipient who was online is routed through the engine's decision pipeline with one more step,
`LiveSocketOpen`, which suppresses it. So "why did Bob get no push?" is answered by the log
(Notification.Suppressed, reason "live_socket: ...") like every other decision, part 2's
steps (preferences, quiet hours) plug in beside it, and the domain stays pure. The other
place it could live, a step at dispatch time, would push to someone who went online after the
message and suppress for someone who left, and would need the dispatcher to ask presence for
every push; deciding once, when the message is handled, is what "has no live socket at that
moment" means.

The verification token is derived from the event: the claim is the user, the contact point
and the moment the address was added or added again (`EmailVerification.token(..., at)`),
MACed with the server's key, so handling the event again makes the same token and request id;
the key reaches the handler inside the command the effect builds (never in a repr), and the
token is written only inside the notification's content, which is its purpose.

A deployment with no push or email provider writes nothing for messages (every one would be
suppressed for want of a provider); friend requests still reach the inbox.

Stale events. A manager's first run over an existing log (or one after a long outage) reaches
old events: a message or friend request older than `own_notification_max_age_seconds` when
its effect runs is not notified (a push about last week's message is noise), and a
verification link already expired is not sent.

A message read (on any device) or unsent before its push or email went out withdraws them
(commands/notifications/suppression.py); the read marker does not count as the notification
read (the inbox's Read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from uuid import UUID, uuid5

from commands.notifications import trigger
from commands.notifications.suppression import (
    already_read_or_unsent,
    note_message_notifications,
)
from commands.notifications.trigger import (
    DEFAULT_CATEGORIES,
    NotificationsRequested,
    TriggerNotifications,
    request_id_for,
    trigger_notifications,
)
from commands.processes.issuing import Effect, KeyedSubmit
from commands.processes.reactions import cause_of, event_id_of
from domain.identity.contacts import Blocklist, Contact, blocklist_id
from domain.identity.users import User
from domain.messaging.conversations import GROUP, Conversation
from domain.messaging.messages import Message
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import (
    CHANNEL_OF_KIND,
    EMAIL,
    EMAIL_ADDRESS,
    HIGH,
    IN_APP,
    INBOX,
    NORMAL,
    PUSH,
)
from domain.notifications.contact_points import ContactPoints
from domain.notifications.content import Content
from domain.notifications.decisions import (
    Decision,
    DecisionStep,
    RecipientFacts,
    RoutingRequest,
    decide,
)
from domain.notifications.digests import COUNT, DigestAsk
from domain.notifications.email_verification import EmailVerification, verification_link
from domain.notifications.notifications import Notification
from domain.notifications.pipeline import DECISION_STEPS
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

MESSAGES: Final = "message-notifications"
FRIEND_REQUESTS: Final = "friend-request-notifications"
EMAIL_VERIFICATIONS: Final = "email-verification"
MESSAGE: Final = "message"
MENTION: Final = "mention"
FRIEND_REQUEST: Final = "friend_request"
ACCOUNT: Final = "account"
MESSAGE_PLAN: Final = (PUSH, EMAIL)
FRIEND_REQUEST_PLAN: Final = (PUSH, IN_APP)
VERIFICATION_PLAN: Final = (EMAIL,)
# Parley's own categories: its own notifications have them whatever else a deployment defines
OWN_CATEGORIES: Final = frozenset({MESSAGE, MENTION, FRIEND_REQUEST, ACCOUNT})
ATTACHMENT_ONLY: Final = "Sent an attachment"
ELLIPSIS: Final = "\u2026"


def actor_of(manager: str) -> UUID:
    """Who a manager's commands are recorded as coming from (no person asked)."""
    return uuid5(UUID("6f1d2a52-52a7-5b1c-9d0e-3f0c8e7a4b11"), f"parley:{manager}")


def caller_of(manager: str) -> str:
    return f"process:{manager}"


# --- what only the composition root knows --------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """What the write side needs to know of the deployment to route a notification."""

    provided_kinds: frozenset[str] = frozenset({INBOX})
    categories: frozenset[str] = frozenset(DEFAULT_CATEGORIES)
    policy: CategoryPolicy = field(default_factory=CategoryPolicy)

    def reaches_any(self, channels: Sequence[str]) -> bool:
        """Whether some configured provider (or the inbox) takes one of these channels."""
        return any(CHANNEL_OF_KIND.get(kind) in channels for kind in self.provided_kinds)


class LiveSockets(Protocol):
    """Whether a person has a live socket open on any process (the presence leases)."""

    def open_for(self, user_id: UUID, now: datetime) -> bool: ...


# Members of a conversation now, as the log has them (the effect asks whom to check)
ConversationMembers = Callable[[UUID], Sequence[UUID]]


# --- effects: what the managers answer ----------------------------------------------------


@dataclass(frozen=True)
class NotifyNewMessage:
    """An effect: see who of the conversation's members has a live socket, then trigger."""

    request_id: UUID
    conversation_id: UUID
    message_id: UUID
    sender_id: UUID
    text: str = field(repr=False)
    attachments: int
    mention_ids: tuple[UUID, ...]
    sent_at: datetime
    cause: Cause


@dataclass(frozen=True)
class NotifyFriendRequest:
    """An effect: trigger the addressee's notification with the deployment's facts."""

    request_id: UUID
    requester_id: UUID
    addressee_id: UUID
    requested_at: datetime
    cause: Cause


@dataclass(frozen=True)
class SendEmailVerification:
    """An effect: send the verification link of a newly added email address."""

    request_id: UUID
    contact_points_id: UUID  # the ContactPoints aggregate
    contact_point_id: UUID  # the email address in it
    asked_at: datetime  # when it was added (or added again): the token's claim is from it
    cause: Cause


# --- write-side commands the effects submit ------------------------------------------------


@dataclass(frozen=True)
class TriggerMessageNotifications:
    """One notification per member of the conversation but the sender; `online` had a live
    socket when the effect asked, so theirs is suppressed (by `LiveSocketOpen`)."""

    request_id: UUID
    conversation_id: UUID
    message_id: UUID
    sender_id: UUID
    text: str = field(repr=False)
    attachments: int
    mention_ids: tuple[UUID, ...]
    online: frozenset[UUID]
    at: datetime
    preview_chars: int
    fallback_after_seconds: int
    deployment: Deployment = Deployment()
    # message (not mention) notifications collapse per conversation over this window
    # (0: each sent alone; PARLEY_MESSAGE_DIGEST_WINDOW_SECONDS)
    digest_window_seconds: int = 0


@dataclass(frozen=True)
class TriggerFriendRequestNotification:
    request_id: UUID
    requester_id: UUID
    addressee_id: UUID
    at: datetime
    deployment: Deployment = Deployment()


@dataclass(frozen=True)
class TriggerEmailVerification:
    """`verification` signs the token (the server's key, never in a repr); `public_url` is
    where the client app serves the page the link opens."""

    request_id: UUID
    contact_points_id: UUID
    contact_point_id: UUID
    asked_at: datetime
    at: datetime
    verification: EmailVerification = field(repr=False)
    public_url: str
    deployment: Deployment = Deployment()


@dataclass(frozen=True)
class OwnNotificationsTriggered:
    """Flat, so a keyed command's receipt keeps it: the notifications made (each recipient's,
    in order) and, of them, those suppressed because the recipient was online."""

    notification_ids: tuple[UUID, ...]
    recipient_ids: tuple[UUID, ...]
    suppressed_online: tuple[UUID, ...] = ()


NOTHING: Final = OwnNotificationsTriggered((), ())


# --- the process managers (pure) ------------------------------------------------------------


class MessageNotifications:
    """Conversation.MessageSent -> NotifyNewMessage."""

    name = MESSAGES
    actor_id = actor_of(MESSAGES)
    reacts_to: tuple[type, ...] = (Conversation.MessageSent,)

    def react(self, event: Any) -> list[object]:
        if not isinstance(event, Conversation.MessageSent):
            return []
        return [NotifyNewMessage(
            request_id_for(self.name, event_id_of(event)), event.originator_id,
            event.message_id, event.sender_id, event.text, len(event.attachments or ()),
            tuple(event.mention_ids or ()), event.sent_at, cause_of(self, event))]


class FriendRequestNotifications:
    """Contact.FriendRequested -> NotifyFriendRequest."""

    name = FRIEND_REQUESTS
    actor_id = actor_of(FRIEND_REQUESTS)
    reacts_to: tuple[type, ...] = (Contact.FriendRequested,)

    def react(self, event: Any) -> list[object]:
        if not isinstance(event, Contact.FriendRequested):
            return []
        return [NotifyFriendRequest(request_id_for(self.name, event_id_of(event)),
                                    event.requester_id, event.addressee_id, event.at,
                                    cause_of(self, event))]


class EmailVerifications:
    """ContactPoints.EmailAdded, or EmailVerificationRequested (added again, unverified) ->
    SendEmailVerification."""

    name = EMAIL_VERIFICATIONS
    actor_id = actor_of(EMAIL_VERIFICATIONS)
    reacts_to: tuple[type, ...] = (ContactPoints.EmailAdded,
                                   ContactPoints.EmailVerificationRequested)

    def react(self, event: Any) -> list[object]:
        if not isinstance(event, (ContactPoints.EmailAdded,
                                  ContactPoints.EmailVerificationRequested)):
            return []
        return [SendEmailVerification(request_id_for(self.name, event_id_of(event)),
                                      event.originator_id, event.contact_point_id, event.at,
                                      cause_of(self, event))]


REACTIONS: Final = (MessageNotifications(), FriendRequestNotifications(), EmailVerifications())


# --- the effects' port ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReactionSettings:
    preview_chars: int = 100
    message_email_fallback_seconds: int = 900
    max_age_seconds: float = 24 * 3600
    public_url: str = "http://127.0.0.1:8000"
    message_digest_window_seconds: int = 0


def reaction_effects(submit: KeyedSubmit, *, deployment: Callable[[], Deployment],
                     sockets: LiveSockets, members: ConversationMembers,
                     verification: EmailVerification, settings: ReactionSettings,
                     clock: Callable[[], datetime], timeout: float = 70.0
                     ) -> dict[type, Effect]:
    """How the managers' effects reach presence and the write side (the composition root
    builds it; `deployment` is asked each time, so the engine may be attached later)."""
    max_age = timedelta(seconds=settings.max_age_seconds)

    def issue(command: object, cause: Cause, key: str) -> object:
        return submit(command, cause, key).result(timeout=timeout)

    def new_message(effect: NotifyNewMessage, key: str) -> object:
        now, facts = clock(), deployment()
        if now - effect.sent_at > max_age or not facts.reaches_any(MESSAGE_PLAN):
            return NOTHING  # stale; or no provider pushes or emails: nothing to decide
        online = frozenset(m for m in members(effect.conversation_id)
                           if m != effect.sender_id and sockets.open_for(m, now))
        return issue(TriggerMessageNotifications(
            effect.request_id, effect.conversation_id, effect.message_id, effect.sender_id,
            effect.text, effect.attachments, effect.mention_ids, online, now,
            settings.preview_chars, settings.message_email_fallback_seconds, facts,
            settings.message_digest_window_seconds),
            effect.cause, key)

    def friend_request(effect: NotifyFriendRequest, key: str) -> object:
        now = clock()
        if now - effect.requested_at > max_age:
            return NOTHING
        return issue(TriggerFriendRequestNotification(
            effect.request_id, effect.requester_id, effect.addressee_id, now, deployment()),
            effect.cause, key)

    def email_verification(effect: SendEmailVerification, key: str) -> object:
        now = clock()
        if now >= effect.asked_at + timedelta(seconds=verification.ttl_seconds):
            return NOTHING  # its link would have expired already
        return issue(TriggerEmailVerification(
            effect.request_id, effect.contact_points_id, effect.contact_point_id,
            effect.asked_at, now, verification, settings.public_url, deployment()),
            effect.cause, key)

    return {NotifyNewMessage: new_message, NotifyFriendRequest: friend_request,
            SendEmailVerification: email_verification}


# --- the write side -------------------------------------------------------------------------


class LiveSocketOpen:
    """A decision step: the recipient had a live socket open when the message was handled,
    so the message reached them there and nothing is pushed."""

    name = "live_socket"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, suppress="the recipient had a live socket open")


class SenderBlocked:
    """A decision step: the recipient blocked the sender, whose messages their feed leaves
    out; a push would show one."""

    name = "blocked"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, suppress="the recipient blocked the sender")


def has_blocked(batch: Batch, owner_id: UUID, other_id: UUID) -> bool:
    blocklist = batch.find(Blocklist, blocklist_id(owner_id))
    return blocklist is not None and blocklist.has_blocked(other_id)


def preview(text: str, chars: int, attachments: int) -> str:
    """The first `chars` characters of the text (an ellipsis if there was more)."""
    text = " ".join(text.split())
    if not text:
        return ATTACHMENT_ONLY if attachments else ""
    return text if len(text) <= chars else text[:chars].rstrip() + ELLIPSIS


def category_request_id(request_id: UUID, category: str) -> UUID:
    """A message's mentions and its other notifications are two requests (two categories)."""
    return uuid5(request_id, category)


def part_request_id(request_id: UUID, part: int) -> UUID:
    """The request of the `part`-th thousand recipients (the first is the request itself)."""
    return request_id if part == 0 else uuid5(request_id, f"part/{part}")


def message_digest(command: TriggerMessageNotifications, conversation: Conversation,
                   content: Content, category: str, message_seq: int | None
                   ) -> DigestAsk | None:
    """With a digest window, a conversation's messages (not mentions) collapse into one
    notification per recipient ("3 new messages in Book club"; from the sender in a direct
    conversation), keyed by the conversation; each member at its message's seq, so a read
    receipt takes out those it passed (commands/notifications/suppression.py)."""
    if command.digest_window_seconds <= 0 or category != MESSAGE:
        return None
    where = (f"in {conversation.title}" if conversation.kind == GROUP and conversation.title
             else f"from {content.title}")
    return DigestAsk(str(command.conversation_id), command.digest_window_seconds,
                     f"{COUNT} new messages {where}", message_seq)


def trigger_message_notifications(batch: Batch, command: TriggerMessageNotifications,
                                  cause: Cause) -> OwnNotificationsTriggered:
    conversation = batch.find(Conversation, command.conversation_id)
    if conversation is None:
        return NOTHING
    sender = batch.find(User, command.sender_id)
    recipients = [m for m in conversation.member_ids if m != command.sender_id]
    mentioned = set(command.mention_ids)
    content = Content(
        title=sender.name if sender is not None else "New message",
        body=preview(command.text, command.preview_chars, command.attachments),
        data={"conversation_id": str(command.conversation_id),
              "message_id": str(command.message_id)},
        deep_link=f"parley://conversations/{command.conversation_id}")
    made: list[tuple[UUID, UUID]] = []
    suppressed: list[UUID] = []
    # read (on some device) or unsent before this ran: the receipt found nothing to withdraw
    pointless = already_read_or_unsent(batch, command.conversation_id, command.message_id,
                                       recipients)
    message = batch.find(Message, command.message_id)
    message_seq = None if message is None else message.seq
    for category, priority in ((MENTION, HIGH), (MESSAGE, NORMAL)):
        group = [r for r in recipients if (r in mentioned) == (category == MENTION)]
        request_id = category_request_id(command.request_id, category)
        held_back: dict[UUID, DecisionStep] = {
            r: SenderBlocked() for r in group if has_blocked(batch, r, command.sender_id)}
        held_back |= {r: pointless[r] for r in group if r in pointless and r not in held_back}
        held_back |= {r: LiveSocketOpen() for r in group
                      if r in command.online and r not in held_back}
        offline = [r for r in group if r not in held_back]
        per_request = trigger.MAX_RECIPIENTS  # a group may be larger than one request takes
        for start in range(0, len(offline), per_request):
            requested = trigger_notifications(batch, TriggerNotifications(
                part_request_id(request_id, start // per_request), caller_of(MESSAGES),
                tuple(offline[start:start + per_request]), category, priority,
                MESSAGE_PLAN, content, command.at,
                fallback_after_seconds=command.fallback_after_seconds,
                provided_kinds=command.deployment.provided_kinds,
                categories=command.deployment.categories | OWN_CATEGORIES,
                policy=command.deployment.policy,
                digest=message_digest(command, conversation, content, category,
                                      message_seq)), cause)
            made.extend(zip(requested.recipient_ids, requested.notification_ids, strict=True))
        for recipient, step in held_back.items():
            notification = _suppressed(step, request_id, recipient, category, priority,
                                       content, command, cause)
            batch.add(notification)
            made.append((recipient, notification.id))
            if isinstance(step, LiveSocketOpen):
                suppressed.append(notification.id)
    # a later read receipt or unsend finds the pending ones through the recipients' indexes
    note_message_notifications(batch, command.conversation_id, command.message_id, made, cause)
    order = {recipient: index for index, recipient in enumerate(recipients)}
    made.sort(key=lambda pair: order[pair[0]])
    return OwnNotificationsTriggered(tuple(n for _, n in made), tuple(r for r, _ in made),
                                     tuple(suppressed))


def _suppressed(step: DecisionStep, request_id: UUID, recipient: UUID, category: str,
                priority: str, content: Content, command: TriggerMessageNotifications,
                cause: Cause) -> Notification:
    """The recipient's notification, routed through the engine's pipeline with `step` first
    (which suppresses it): the decision is recorded like any other."""
    notification = Notification.request(
        request_id, recipient, category=category, priority=priority, channels=MESSAGE_PLAN,
        fallback_after_seconds=command.fallback_after_seconds, content=content, send_at=None,
        cancellation_key=None, caller=caller_of(MESSAGES), at=command.at, cause=cause)
    facts = RecipientFacts(frozenset({INBOX}), command.deployment.provided_kinds | {INBOX})
    routing = decide(RoutingRequest(category, priority, MESSAGE_PLAN, None), facts, command.at,
                     (step, *DECISION_STEPS))
    notification.route(routing, command.at, cause)
    return notification


def trigger_friend_request_notification(batch: Batch,
                                        command: TriggerFriendRequestNotification,
                                        cause: Cause) -> OwnNotificationsTriggered:
    requester = batch.find(User, command.requester_id)
    if requester is None or batch.find(User, command.addressee_id) is None:
        return NOTHING
    content = Content(
        title="New friend request", body=f"{requester.name} sent you a friend request",
        data={"requester_id": str(command.requester_id)},
        deep_link=f"parley://contacts/requests/{command.requester_id}")
    return _own(trigger_notifications(batch, TriggerNotifications(
        command.request_id, caller_of(FRIEND_REQUESTS), (command.addressee_id,), FRIEND_REQUEST,
        NORMAL, FRIEND_REQUEST_PLAN, content, command.at,
        provided_kinds=command.deployment.provided_kinds,
        categories=command.deployment.categories | OWN_CATEGORIES,
        policy=command.deployment.policy), cause))


def trigger_email_verification(batch: Batch, command: TriggerEmailVerification,
                               cause: Cause) -> OwnNotificationsTriggered:
    """Nothing if the address was removed or verified meanwhile."""
    book = batch.find(ContactPoints, command.contact_points_id)
    point = None if book is None else book.points.get(command.contact_point_id)
    if book is None or point is None or point.kind != EMAIL_ADDRESS or point.verified:
        return NOTHING
    token = command.verification.token(book.user_id, command.contact_point_id,
                                       command.asked_at)
    link = verification_link(command.public_url, token)
    content = Content(
        title="Verify your email address",
        body="Open the link below to confirm that this address is yours and to receive "
             "Parley's notifications here.\n\nIf you did not add it, ignore this email.",
        data={"contact_point_id": str(command.contact_point_id)}, deep_link=link)
    return _own(trigger_notifications(batch, TriggerNotifications(
        command.request_id, caller_of(EMAIL_VERIFICATIONS), (book.user_id,), ACCOUNT, HIGH,
        VERIFICATION_PLAN, content, command.at, provided_kinds=command.deployment.provided_kinds,
        categories=command.deployment.categories | OWN_CATEGORIES,
        policy=command.deployment.policy,
        contact_point_id=str(command.contact_point_id)), cause))


def _own(requested: NotificationsRequested) -> OwnNotificationsTriggered:
    return OwnNotificationsTriggered(requested.notification_ids, requested.recipient_ids)


REACTION_HANDLERS: Mapping[type, Handler] = {
    TriggerMessageNotifications: trigger_message_notifications,
    TriggerFriendRequestNotification: trigger_friend_request_notification,
    TriggerEmailVerification: trigger_email_verification,
}
