"""Who sees a person's presence and typing: their privacy setting, their contacts, blocks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.errors import InvalidCommand
from domain.identity.users import CONTACTS, EVERYONE, NOBODY, User
from projections.identity.users import UserDirectoryProjector, public_profile
from tests.builders import a_cause
from tests.projected_world import ProjectedWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ProjectedWorld]:
    projected = ProjectedWorld(tmp_path)
    yield projected
    projected.close()


def test_presence_is_shown_to_everyone_until_the_person_chooses_otherwise() -> None:
    user = User.register("ada", "Ada", a_cause())
    assert user.presence_visible_to == EVERYONE
    assert not user.show_presence_to(EVERYONE, a_cause())
    assert user.show_presence_to(NOBODY, a_cause())
    _, changed = user.collect_events()
    assert isinstance(changed, User.PresenceVisibilityChanged)
    assert user.presence_visible_to == NOBODY


@pytest.mark.parametrize("audience", ["", "friends", "Everyone", "contacts "])
def test_presence_is_visible_to_everyone_contacts_or_nobody_and_nothing_else(
    audience: str,
) -> None:
    user = User.register("ada", "Ada", a_cause())
    with pytest.raises(InvalidCommand) as refused:
        user.show_presence_to(audience, a_cause())
    assert refused.value.field == "presence"
    assert not user.pending_events[1:]


def test_the_setting_is_projected_for_its_owner_but_is_not_part_of_the_public_profile() -> None:
    user = User.register("ada", "Ada", a_cause())
    user.show_presence_to(CONTACTS, a_cause())
    registered, changed = user.collect_events()
    projector = UserDirectoryProjector()
    [profile] = projector.changes(registered, 1)
    [setting] = projector.changes(changed, 2)
    assert setting.fields == {"presence_visible_to": CONTACTS}
    assert "presence_visible_to" not in public_profile(profile.fields | setting.fields)


def test_the_presence_audience_follows_the_setting(world: ProjectedWorld) -> None:
    ada, bob, cy, stranger = (world.person(n) for n in ("ada", "bob", "cy", "eve"))
    world.group(ada, bob, cy)
    world.befriend(ada, bob)
    assert world.presence.audience(str(ada.id)) == sorted([str(bob.id), str(cy.id)])
    assert str(stranger.id) not in world.presence.audience(str(ada.id))

    world.show_presence_to(ada, CONTACTS)
    assert world.presence.audience(str(ada.id)) == [str(bob.id)]
    assert world.presence.may_see(str(bob.id), str(ada.id))
    assert not world.presence.may_see(str(cy.id), str(ada.id))

    world.show_presence_to(ada, NOBODY)
    assert world.presence.audience(str(ada.id)) == []
    assert not world.presence.may_see(str(bob.id), str(ada.id))
    assert world.presence.may_see(str(ada.id), str(ada.id)), "one always sees oneself"


def test_a_block_hides_presence_and_typing_both_ways_until_unblocked(
    world: ProjectedWorld,
) -> None:
    ada, bob, cy = (world.person(n) for n in ("ada", "bob", "cy"))
    world.group(ada, bob, cy)
    world.block(ada, bob)
    assert world.presence.audience(str(ada.id)) == [str(cy.id)]
    assert world.presence.audience(str(bob.id)) == [str(cy.id)]
    assert not world.presence.may_see(str(bob.id), str(ada.id))
    assert not world.presence.may_see(str(ada.id), str(bob.id))
    assert world.presence.typing_hidden_from(str(bob.id)) == [str(ada.id)]
    assert world.presence.typing_hidden_from(str(ada.id)) == [str(bob.id)]
    assert world.presence.typing_hidden_from(str(cy.id)) == []

    world.unblock(ada, bob)
    assert world.presence.may_see(str(bob.id), str(ada.id))
    assert world.presence.typing_hidden_from(str(bob.id)) == []


def test_someone_not_projected_yet_has_no_presence_audience(world: ProjectedWorld) -> None:
    """A socket may open before its own user's registration reaches the read models."""
    ada = world.person("ada")
    unknown = str(uuid.uuid4())
    assert world.presence.audience(unknown) == []
    assert not world.presence.may_see(str(ada.id), unknown)
