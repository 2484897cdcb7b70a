"""Events stored before the bounded-contexts move decode to the classes where they live now."""

from __future__ import annotations

from eventsourcing.utils import get_topic, resolve_topic

from domain.identity.users import User
from domain.messaging.conversations import Conversation
from event_log.moved_topics import current_module, former_topics, register_moved_modules
from parley.contexts import context_of, moved_event_modules


def test_an_old_topic_resolves_to_the_moved_class() -> None:
    register_moved_modules(moved_event_modules())
    assert resolve_topic("domain.users:User.Registered") is User.Registered
    assert resolve_topic("domain.conversations:Conversation") is Conversation
    assert resolve_topic("domain.conversations:Conversation.MessageSent") is (
        Conversation.MessageSent)


def test_new_events_are_stored_under_their_new_module() -> None:
    assert get_topic(User.Registered) == "domain.identity.users:User.Registered"


def test_an_event_type_is_matched_under_both_its_topics() -> None:
    moves = moved_event_modules()
    assert former_topics("domain.identity.users:User.Registered", moves) == [
        "domain.users:User.Registered"]
    assert former_topics("somewhere.else:Thing.Happened", moves) == []
    assert current_module("domain.devices", moves) == "domain.identity.devices"


def test_the_relay_sends_an_event_stored_under_an_old_topic_to_its_context() -> None:
    assert context_of("domain.users:User.Registered") == "identity"
    assert context_of("domain.identity.users:User.Registered") == "identity"
    assert context_of("domain.conversations:Conversation.MessageSent") == "messaging"
    assert context_of("domain.accounts:Account.PasswordChanged") is None
