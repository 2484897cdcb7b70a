"""`parley notifications trace ID`: a notification's decision trace from the operator's shell,
read from the profile's event log directly (as `parley audit` does), so it works on either
profile with nothing else running and shows what the log holds this moment.

The operator sees what an admin sees over HTTP: every step, no content (no title, no body).
Exit 1 when there is no such notification.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from parley.cli_settings import command_settings, fail
from parley.notifications_cli import notifications_app

if TYPE_CHECKING:
    from commands.notifications.trace import NotificationTrace

# steps a fact elsewhere may cause (a read receipt, an unsend): the table names the event
CAUSES_SHOWN = frozenset({"cancelled", "fallback", "suppressed"})
NotificationId = Annotated[uuid.UUID, typer.Argument(help="The notification's id")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object: the trace, as the "
                                                     "HTTP route answers it")]


@notifications_app.command("trace")
def trace(notification_id: NotificationId, as_json: AsJson = False) -> None:
    """Why a notification did or did not arrive: every step in order, with its outcome and
    the facts behind it (decisions' inputs, providers' answers and breakers, fallbacks)."""
    from eventsourcing.persistence import PersistenceError

    from commands.notifications.trace import NotificationTraces, Viewer
    from domain.notifications.errors import NotificationNotFound
    from event_log.log import EventLog
    from parley.bootstrap import event_log_env
    from parley.notification_engine import provider_entries

    settings = command_settings()
    try:
        names = [str(e.get("name")) for e in provider_entries(settings)]
    except ValueError as error:
        fail(str(error))
    try:
        event_log = EventLog(env=event_log_env(settings))
    except (PersistenceError, OSError) as error:
        fail(f"cannot open the event log: {error}")
    try:
        found = NotificationTraces(event_log.repository.event_store, names).trace(
            notification_id, Viewer.user(uuid.UUID(int=0), is_admin=True))
    except NotificationNotFound:
        typer.echo(f"parley: no notification {notification_id}", err=True)
        raise typer.Exit(1) from None
    except PersistenceError as error:
        fail(f"cannot read the event log (has 'parley migrate' run?): {error}")
    finally:
        event_log.close()
    if as_json:
        typer.echo(json.dumps(as_plain(found)))
        return
    _print_table(found)


def as_plain(found: NotificationTrace) -> dict[str, Any]:
    """The trace as the HTTP route's body."""
    from api.notifications.trace import trace_out

    plain: dict[str, Any] = trace_out(found).model_dump(mode="json")
    return plain


def _print_table(found: NotificationTrace) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(Column("at", no_wrap=True), Column("#", justify="right"), "step",
                  Column("outcome", overflow="fold"), Column("details", overflow="fold"),
                  title=f"notification {found.notification_id}",
                  caption=(f"recipient {found.recipient_id}; {found.category} "
                           f"({found.priority}); now {found.state}"
                           + ("; first 2,000 events only" if found.truncated else "")))
    for step in found.steps:
        label = f"{step.step}: {step.name}" if step.name else step.step
        details = _details(step.details)
        if step.caused_by is not None and step.step in CAUSES_SHOWN:
            details = f"caused by {step.caused_by} {details}".strip()
        table.add_row(step.at.isoformat(timespec="milliseconds"), str(step.version), label,
                      step.outcome, details)
    # a pipe or a file gets whole lines; a terminal its own width
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _details(details: dict[str, Any]) -> str:
    """The facts a table shows beside the outcome (the rest is in --json)."""
    shown = {k: v for k, v in details.items()
             if k in ("inputs", "breakers", "code", "skipped", "bucket", "into") and v}
    return json.dumps(shown, separators=(",", ":")) if shown else ""
