"""The payments read models' mappings: each event in, the documents it changes out; every
change is versioned by the event's position, so a redelivered event changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.read_model.sqlite_read_store import SQLiteReadStore
from commands.payments.steps import ExpireHolds, HoldsExpired
from commands.payments.timers import HOLD_EXPIRY_ACTOR, HoldExpiry
from domain.payments.accounts import (
    FUNDING_CLEARING,
    Balances,
    LedgerAccount,
    system_account,
    wallet,
)
from domain.payments.errors import InsufficientFunds
from domain.payments.payments import Payment
from domain.payments.transfers import (
    CreateTransfer,
    Ledger,
    Operation,
    PostPending,
    Transfer,
    VoidPending,
)
from projections.payments.balances import LEDGER_ACCOUNTS, BalanceProjector, BalanceQueries
from projections.payments.payments import PaymentProjector, PaymentQueries
from projections.payments.statements import LEDGER_POSTINGS, StatementProjector
from projections.read_model.documents import Upsert
from tests.builders import a_cause

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ADA, BOB = uuid.uuid4(), uuid.uuid4()
FUNDING, ADA_USD, BOB_USD = (system_account(FUNDING_CLEARING, "USD"), wallet(ADA, "USD"),
                             wallet(BOB, "USD"))


class Books:
    """Accounts and transfers, deciding chains as the write side does, and the events each
    chain recorded."""

    def __init__(self) -> None:
        self.accounts = {ref.id: LedgerAccount.open(ref, a_cause())
                         for ref in (FUNDING, ADA_USD, BOB_USD)}
        self.transfers: dict[uuid.UUID, Transfer] = {}

    def record(self, *operations: Operation) -> list[Any]:
        created = Ledger(self.accounts, self.transfers).apply(operations, AT, a_cause())
        self.transfers.update({t.id: t for t in created})
        return [e for t in self.transfers.values() for e in t.collect_events()]


def changes_of(projector: Any, events: Sequence[Any], start: int = 1) -> list[Upsert]:
    return [c for n, e in enumerate(events, start) for c in projector.changes(e, n)]


def test_a_transfer_event_upserts_both_accounts_with_their_totals_after_it() -> None:
    books, projector = Books(), BalanceProjector()
    [created] = books.record(CreateTransfer(uuid.uuid4(), FUNDING, ADA_USD, 10_000, "funding"))
    debit, credit = projector.changes(created, 7)
    assert (debit.collection, debit.doc_id, debit.version) == (LEDGER_ACCOUNTS,
                                                              str(FUNDING.id), 7)
    assert debit.fields["debits_posted"] == 10_000 and debit.fields["posted"] == -10_000
    assert credit.doc_id == str(ADA_USD.id)
    assert credit.fields["available"] == 10_000
    assert credit.fields["currency"] == "USD" and credit.fields["position"] == 7


def test_a_hold_shows_as_pending_on_both_sides_and_its_posting_moves_it_to_posted() -> None:
    books, projector = Books(), BalanceProjector()
    hold = uuid.uuid4()
    events = books.record(CreateTransfer(uuid.uuid4(), FUNDING, ADA_USD, 10_000, "funding"))
    events += books.record(CreateTransfer(hold, ADA_USD, BOB_USD, 4_000, "payment",
                                          pending=True, timeout_at=AT + timedelta(minutes=10)))
    events += books.record(PostPending(hold, 3_000))
    changes = changes_of(projector, events)
    held_ada, held_bob = changes[2].fields, changes[3].fields
    assert (held_ada["debits_pending"], held_ada["available"]) == (4_000, 6_000)
    assert held_bob["credits_pending"] == 4_000 and held_bob["posted"] == 0
    posted_ada, posted_bob = changes[4].fields, changes[5].fields
    assert (posted_ada["debits_pending"], posted_ada["available"]) == (0, 7_000)
    assert (posted_bob["credits_pending"], posted_bob["posted"]) == (0, 3_000)
    assert posted_ada["kind"] == "wallet" and changes[0].fields["kind"] == FUNDING_CLEARING


def test_statement_postings_are_signed_from_each_accounts_view() -> None:
    books, projector = Books(), StatementProjector()
    hold = uuid.uuid4()
    events = books.record(CreateTransfer(uuid.uuid4(), FUNDING, ADA_USD, 10_000, "funding"))
    events += books.record(CreateTransfer(hold, ADA_USD, BOB_USD, 4_000, "payment",
                                          reference=hold, pending=True))
    events += books.record(VoidPending(hold, "reversed"))
    changes = changes_of(projector, events)
    assert [c.doc_id for c in changes[2:]] == [f"{hold}/created/debit", f"{hold}/created/credit",
                                               f"{hold}/voided/debit", f"{hold}/voided/credit"]
    assert {c.collection for c in changes} == {LEDGER_POSTINGS}
    created_debit, _, voided_debit, voided_credit = (c.fields for c in changes[2:])
    assert (created_debit["amount"], created_debit["pending"]) == (-4_000, True)
    assert created_debit["counterparty_id"] == str(BOB_USD.id)
    assert created_debit["reference"] == str(hold) and created_debit["code"] == "payment"
    assert (voided_debit["amount"], voided_credit["amount"]) == (4_000, -4_000)  # given back
    assert voided_debit["balances"]["debits_pending"] == 0


def a_payment(amount: int = 2_500) -> Payment:
    return Payment.initiate(uuid.uuid4(), ADA, BOB, uuid.uuid4(), amount, "USD", "lunch", AT,
                            {"sender_account_created_at": AT.isoformat()}, 25, 600, a_cause())


def test_a_payment_held_for_review_is_due_and_in_the_queue_until_decided(
        tmp_path: Path) -> None:
    store, projector = SQLiteReadStore(tmp_path / "read.sqlite3"), PaymentProjector()
    payment = a_payment()
    payment.assessed("review", 70, [{"kind": "new_account", "triggered": True, "score": 70,
                                     "detail": {}}], 3, AT, a_cause())
    payment.authorised(uuid.uuid4(), AT + timedelta(minutes=10), AT, a_cause())
    events = payment.collect_events()
    store.apply(changes_of(projector, events), projector.name, len(events))
    queries = PaymentQueries(store)
    [queued] = queries.review_queue(10)
    assert queued["status"] == "in_review" and queued["assessed"]["score"] == 70
    assert queued["assessed"]["results"][0]["kind"] == "new_account"
    assert queries.due_holds(AT + timedelta(minutes=9), 10) == []
    assert queries.due_holds(AT + timedelta(minutes=10), 10) == [payment.id]
    payment.decide_review(uuid.uuid4(), True, "known customer", AT, a_cause())
    payment.settle(uuid.uuid4(), 25, AT, a_cause())
    later = payment.collect_events()
    store.apply(changes_of(projector, later, len(events) + 1), projector.name, 10)
    assert queries.review_queue(10) == []
    assert queries.due_holds(AT + timedelta(days=1), 10) == []
    assert queries.for_review(payment.id)["review"]["approved"] is True  # type: ignore[index]


def test_refunds_add_up_to_the_status_payment_status_computes(tmp_path: Path) -> None:
    store, projector = SQLiteReadStore(tmp_path / "read.sqlite3"), PaymentProjector()
    payment = a_payment(2_500)
    payment.assessed("allow", 0, [], 1, AT, a_cause())
    payment.authorised(uuid.uuid4(), AT + timedelta(minutes=10), AT, a_cause())
    payment.settle(uuid.uuid4(), 25, AT, a_cause())
    payment.refund(uuid.uuid4(), uuid.uuid4(), 1_000, "half", BOB, AT, a_cause())
    events = payment.collect_events()
    store.apply(changes_of(projector, events), projector.name, len(events))
    queries = PaymentQueries(store)
    seen = queries.payment(payment.id, BOB)
    assert seen is not None and seen["status"] == payment.status == "partially_refunded"
    assert seen["refunded"] == 1_000 and [r["amount"] for r in seen["refunds"]] == [1_000]
    assert queries.payment(payment.id, uuid.uuid4()) is None
    payment.refund(uuid.uuid4(), uuid.uuid4(), 1_500, "rest", BOB, AT, a_cause())
    more = payment.collect_events()
    store.apply(changes_of(projector, more, 100), projector.name, 100)
    assert queries.payment(payment.id, ADA)["status"] == payment.status == "refunded"  # type: ignore[index]


def test_a_redelivered_event_changes_nothing(tmp_path: Path) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    books, balances = Books(), BalanceProjector()
    events = books.record(CreateTransfer(uuid.uuid4(), FUNDING, ADA_USD, 10_000, "funding"))
    events += books.record(CreateTransfer(uuid.uuid4(), ADA_USD, BOB_USD, 1_000, "payment"))
    store.apply(changes_of(balances, events), balances.name, 2)
    before = store.get(LEDGER_ACCOUNTS, str(ADA_USD.id))
    store.apply(balances.changes(events[0], 1), balances.name, 2)  # the first again
    assert store.get(LEDGER_ACCOUNTS, str(ADA_USD.id)) == before
    assert before is not None and before["available"] == 9_000
    totals = BalanceQueries(store).ledger_totals()["USD"]
    assert totals["debits_posted"] == totals["credits_posted"] == 11_000


MOVES = st.lists(st.tuples(st.sampled_from(["fund", "pay", "hold_post", "hold_void"]),
                           st.integers(min_value=1, max_value=5_000)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(MOVES)
def test_projected_balances_match_the_ledger_and_conserve_money(moves: list[Any]) -> None:
    books, projector = Books(), BalanceProjector()
    latest: dict[str, dict[str, Any]] = {}
    position = 0
    for kind, amount in moves:
        hold = uuid.uuid4()
        plans: dict[str, list[tuple[Operation, ...]]] = {
            "fund": [(CreateTransfer(uuid.uuid4(), FUNDING, ADA_USD, amount, "funding"),)],
            "pay": [(CreateTransfer(uuid.uuid4(), ADA_USD, BOB_USD, amount, "payment"),)],
            "hold_post": [(CreateTransfer(hold, ADA_USD, BOB_USD, amount, "payment",
                                          pending=True),), (PostPending(hold),)],
            "hold_void": [(CreateTransfer(hold, ADA_USD, BOB_USD, amount, "payment",
                                          pending=True),), (VoidPending(hold, "no"),)],
        }
        for chain in plans[kind]:
            try:
                events = books.record(*chain)
            except InsufficientFunds:
                break
            for event in events:
                position += 1
                for change in projector.changes(event, position):
                    latest[change.doc_id] = change.fields
    for account_id, account in books.accounts.items():
        document = latest.get(str(account_id))
        if document is not None:
            assert Balances.from_document(document) == account.balances
    debits = sum(d["debits_posted"] + d["debits_pending"] for d in latest.values())
    credits = sum(d["credits_posted"] + d["credits_pending"] for d in latest.values())
    assert debits == credits


class DueIndex:
    def __init__(self, *due: uuid.UUID) -> None:
        self.due = list(due)
        self.asked: list[datetime] = []

    def due_holds(self, now: datetime, limit: int) -> list[uuid.UUID]:
        self.asked.append(now)
        return self.due[:limit]


def test_the_hold_timer_expires_what_the_index_shows_due_at_the_clocks_time() -> None:
    payment_id, executed = uuid.uuid4(), []

    def execute(command: Any, cause: Any) -> Any:
        executed.append((command, cause))
        return SimpleNamespace(result=HoldsExpired(command.payment_ids))

    index = DueIndex(payment_id)
    expiry = HoldExpiry(index, execute, lambda: AT)
    assert expiry.expire_due(10) == 1
    [(command, cause)] = executed
    assert command == ExpireHolds((payment_id,), AT) and index.asked == [AT]
    assert cause.actor_id == HOLD_EXPIRY_ACTOR
    assert HoldExpiry(DueIndex(), execute, lambda: AT).expire_due(10) == 0 and len(executed) == 1
    assert expiry.schedule(5.0).work == expiry.expire_due
