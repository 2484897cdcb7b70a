"""`parley compliance show USER --at TIME`: what one user's email unsubscribes, SMS consents
and notification preferences were at that moment, from the event log (both profiles,
nothing else need run), with the event that set each: a table (with `--history`, also the
preference events a later one superseded, in a section of their own), or `--json` (the body
`GET /v1/admin/compliance/users/{id}` answers)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from parley.audit_queries_cli import _event_log
from parley.cli_settings import fail

compliance = typer.Typer(help="Compliance evidence from the event log.", no_args_is_help=True)

User = Annotated[str, typer.Argument(help="The user's id or handle")]
At = Annotated[str | None, typer.Option(
    "--at", help="ISO 8601 time (UTC if no offset); default: now")]
AsJson = Annotated[bool, typer.Option("--json", help="The record as one JSON object")]
History = Annotated[bool, typer.Option(
    "--history", help="Also the preference events a later one superseded")]


def user_id_of(user: str) -> uuid.UUID:
    from commands.audit.queries import actor_id_of

    return actor_id_of(user)


@compliance.command("show")
def show(user: User, at: At = None, as_json: AsJson = False, history: History = False) -> None:
    """The user's consents and preferences as they were at --at."""
    from api.http.problems import Problem
    from api.notifications.compliance import (
        answer_of,
        compliance_records,
        moment,
        registered_user,
    )

    try:
        when = moment(at)
    except Problem as problem:
        fail(problem.detail or "bad --at")
    user_id = user_id_of(user)
    with _event_log() as event_log:
        if not registered_user(event_log, user_id):
            fail("no such user")
        body = answer_of(compliance_records(event_log).record(user_id, when)).model_dump(
            mode="json")
    if as_json:
        typer.echo(json.dumps(body))
        return
    for line in table(body, history):
        typer.echo(line)


def table(body: dict[str, Any], history: bool = False) -> list[str]:
    """One line per fact in force: what it was, and the event that set it (aggregate
    version, time, source); with `history`, then the superseded preference events."""
    def setby(event: dict[str, Any] | None) -> str:
        if event is None:
            return "-"
        return f"{event['type']} v{event['version']} at {event['at']} ({event['source']})"

    rows = [("KIND", "WHAT", "STATE", "SET BY")]
    rows += [("unsubscribe", f"email/{u['category']}", "unsubscribed", setby(u["event"]))
             for u in body["email_unsubscribes"]]
    rows += [("sms consent", c["number"], c["consent"], setby(c["event"]))
             for c in body["sms_consents"]]
    events = (body["preferences"] or {}).get("events", [])

    def preference_rows(superseded: bool) -> list[tuple[str, str, str, str]]:
        return [("preference", e["event"]["type"].rpartition(".")[2],
                 json.dumps(e["payload"], sort_keys=True)[:60], setby(e["event"]))
                for e in events if bool(e.get("superseded")) == superseded]

    rows += preference_rows(False)
    older = [("KIND", "WHAT", "PAYLOAD", "SET BY"), *preference_rows(True)] if history else []
    widths = [max(len(row[i]) for row in [*rows, *older]) for i in range(3)]

    def lined(some: list[tuple[str, str, str, str]]) -> list[str]:
        return ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths,
                                                                   strict=True))
                + "  " + row[3] for row in some]

    lines = [f"{body['user_id']} at {body['at']}", *lined(rows)]
    if older:
        lines += ["", "Superseded by a later event (history, not in force then):"]
        lines += lined(older) if len(older) > 1 else ["  none"]
    if body["truncated"]:
        lines.append("(a history was longer than is replayed: see parley audit history)")
    return lines
