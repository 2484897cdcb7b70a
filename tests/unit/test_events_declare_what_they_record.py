"""An event that only records new values declares them (`copies`, `sets`) instead of writing
its own `apply`; the one generic apply gives the aggregate exactly those values."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from domain.identity.contacts import Contact
from domain.messaging.conversations import Conversation
from event_log.aggregate import ParleyAggregate, copied, values
from tests.builders import a_cause

DOMAIN = Path(__file__).parents[2] / "domain"


def only_records_values(apply: ast.FunctionDef) -> bool:
    """Whether an `apply` does nothing but set aggregate attributes to event fields or to
    names and constants (after its `assert isinstance`)."""
    def plain(value: ast.expr) -> bool:
        return (isinstance(value, ast.Constant | ast.Name)
                or (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                and value.value.id == "self"))

    def on_aggregate(target: ast.expr) -> bool:
        return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
            and target.value.id == "aggregate"

    for statement in apply.body:
        if isinstance(statement, ast.Assert):
            continue
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            return False
        target, value = statement.targets[0], statement.value
        targets = target.elts if isinstance(target, ast.Tuple) else [target]
        sources = value.elts if isinstance(value, ast.Tuple) else [value]
        if not all(map(on_aggregate, targets)) or not all(map(plain, sources)):
            return False
    return True


def test_no_event_in_the_domain_writes_an_apply_that_only_records_values() -> None:
    written = [
        f"{path.relative_to(DOMAIN.parent)}:{node.lineno}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name == "apply"
        and only_records_values(node)
    ]
    assert written == [], "declare `copies`/`sets` instead"


class Shelf(ParleyAggregate):
    """A stand-in aggregate: one event declares a renamed copy and a value, one a copy."""

    def __init__(self) -> None:
        self.label, self.lent_to, self.lent = "", None, False

    class Lent(ParleyAggregate.Event):
        borrower: str
        copies = copied(lent_to="borrower")
        sets = values(lent=True)

    class Relabelled(ParleyAggregate.Event):
        label: str
        copies = copied("label")


def test_declared_copies_and_sets_are_the_whole_effect_of_the_event() -> None:
    shelf = Shelf._create(Shelf.Created, id=uuid.uuid4(), **a_cause().as_event_fields())
    shelf.trigger_event(Shelf.Lent, borrower="ada", **a_cause().as_event_fields())
    shelf.trigger_event(Shelf.Relabelled, label="novels", **a_cause().as_event_fields())
    assert (shelf.label, shelf.lent_to, shelf.lent) == ("novels", "ada", True)
    lent = shelf.collect_events()[1]
    assert "copies" not in vars(lent) and "sets" not in vars(lent)  # never stored


def test_aggregates_rebuilt_from_their_events_have_the_declared_values() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    group = Conversation.create_group(uuid.uuid4(), ada, "Club", (bob,), 10, a_cause(ada))
    group.rename(ada, "Book club", a_cause(ada))
    group.send_message(uuid.uuid4(), ada, "hi", group.created_on, a_cause(ada))
    contact = Contact.start(ada, bob, a_cause(ada))
    contact.request_friendship(ada, group.created_on, a_cause(ada))
    for aggregate in (group, contact):
        rebuilt = None
        for event in aggregate.collect_events():
            rebuilt = event.mutate(rebuilt)
        assert vars(rebuilt) == vars(aggregate)
    assert (group.title, group.last_seq) == ("Book club", 1)
    assert (contact.state, contact.requester_id) == ("requested", ada)
