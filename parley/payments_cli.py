"""`parley payments review list|show|approve|reject` and `parley payments ledger`: the
reviewers' and operators' tools for payments, from the operator's shell, on either profile.

`review show` reads the payment from the event log (exact); `review list` and `ledger` read
the payments and balances read models (embedded: the read-model file; production:
Elasticsearch), so they show what the projections have reached. `approve` and `reject` issue
`ReviewPayment` on the profile's log as `parley apikeys` does, in the name of the reviewer
named by `--as` (a handle): the handler checks that user holds the reviewer (or admin) role
on the log's own record, so the CLI obeys the API's rule; the running saga then settles or
reverses the payment.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from parley.apikeys_cli import _execute
from parley.audit_queries_cli import _event_log
from parley.cli_settings import command_settings, fail
from parley.notifications_cli import _read_store

payments_app = typer.Typer(help="Payments: the review queue (list, show, approve, reject) "
                           "and the ledger's totals.", no_args_is_help=True)
review_app = typer.Typer(help="Payments held for review.", no_args_is_help=True)
payments_app.add_typer(review_app, name="review")

PaymentId = Annotated[uuid.UUID, typer.Argument(help="The payment's id")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with the decision)")]
As = Annotated[str, typer.Option("--as", help="The reviewer's handle (role reviewer or admin)")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Most to show")]


def _echo(document: Any) -> None:
    typer.echo(json.dumps(document, default=str, sort_keys=True))


@review_app.command("list")
def review_list(limit: Limit = 100) -> None:
    """The held payments, oldest first, one JSON object a line (from the read model)."""
    from projections.payments.payments import PaymentQueries

    with _read_store(command_settings()) as store:
        for document in PaymentQueries(store).review_queue(limit, None):
            _echo(document)


@review_app.command("show")
def review_show(payment_id: PaymentId) -> None:
    """A payment as the log has it now, with the facts and risk outcome it was held on."""
    from domain.payments.payments import Payment

    with _event_log() as event_log:
        payment = _found(event_log, payment_id)
    if not isinstance(payment, Payment):
        fail(f"{payment_id}: no such payment")
    _echo({"payment_id": payment.id, "status": payment.status, "outcome": payment.outcome,
           "sender_id": payment.sender_id, "recipient_id": payment.recipient_id,
           "amount_minor_units": payment.amount, "currency": payment.currency,
           "fee_minor_units": payment.fee, "refunded_minor_units": payment.refunded,
           "facts": payment.facts, "initiated_at": payment.initiated_at})


def _found(event_log: Any, aggregate_id: uuid.UUID) -> Any:
    from eventsourcing.application import AggregateNotFoundError

    try:
        return event_log.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


def _decide(payment_id: uuid.UUID, approved: bool, reason: str, handle: str) -> None:
    from commands.payments.reviews import ReviewPayment
    from domain.identity.users import user_id_for_handle

    try:
        reviewer_id = user_id_for_handle(handle)
    except ValueError as error:
        fail(f"{handle}: {error}")
    outcome = _execute(ReviewPayment(payment_id, reviewer_id, approved, reason,
                                     datetime.now(UTC)))
    typer.echo(f"{payment_id}: {outcome.result.status} by {handle} at position "
               f"{outcome.position}")


@review_app.command("approve")
def approve(payment_id: PaymentId, reason: Reason, reviewer: As) -> None:
    """Approve a held payment: the saga settles it."""
    _decide(payment_id, True, reason, reviewer)


@review_app.command("reject")
def reject(payment_id: PaymentId, reason: Reason, reviewer: As) -> None:
    """Reject a held payment: the saga reverses it (its hold released)."""
    _decide(payment_id, False, reason, reviewer)


@payments_app.command("ledger")
def ledger() -> None:
    """The ledger's totals per currency (debits equal credits: money is conserved)."""
    from projections.payments.balances import BalanceQueries

    with _read_store(command_settings()) as store:
        _echo(BalanceQueries(store).ledger_totals())
