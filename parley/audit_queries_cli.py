"""`parley audit` queries (history, actor, types, correlation, state, diff, export) and
`parley roles` (grant and revoke auditor/admin), run from the operator's shell.

Both read or write the event log directly, in either profile: nothing else needs to run.
"""

from __future__ import annotations

import getpass
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from parley.audit_cli import audit
from parley.cli_settings import command_settings, fail

if TYPE_CHECKING:
    from commands.audit.entries import AuditEntry
    from commands.audit.queries import AuditLog
    from event_log.log import EventLog

roles = typer.Typer(help="Grant and revoke operator roles (auditor, admin).",
                    no_args_is_help=True)

TABLE_ROWS = 200
T = TypeVar("T")

AggregateId = Annotated[uuid.UUID, typer.Argument(help="Aggregate id")]
Handle = Annotated[str, typer.Argument(help="The user's handle")]
Role = Annotated[str, typer.Argument(help="auditor or admin")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines, one event a line, to pipe")]
Start = Annotated[str | None, typer.Option("--from",
                                           help="Lower bound: log position or ISO-8601 time")]
End = Annotated[str | None, typer.Option("--until",
                                         help="Upper bound: log position or ISO-8601 time")]
After = Annotated[int, typer.Option("--after", min=0, max=2**62,
                                    help="Start after this cursor (position, or version)")]
Limit = Annotated[int | None, typer.Option(
    "--limit", min=1, help=f"Most events to show (tables stop at {TABLE_ROWS} by default)")]


@contextmanager
def _event_log() -> Iterator[EventLog]:
    """The event log of the configured profile, and nothing else."""
    from event_log.log import EventLog
    from parley.bootstrap import event_log_env
    from parley.reachability import Unreachable, require_reachable
    from parley.settings import MissingSetting

    settings = command_settings()
    try:
        if settings.profile == "production":
            require_reachable("PARLEY_DATABASE_URL", settings.database_url or "", 5432)
        event_log = EventLog(env=event_log_env(settings))
    except (MissingSetting, Unreachable) as error:
        fail(str(error))
    try:
        yield event_log
    finally:
        event_log.close()


def _answer(query: Callable[[AuditLog], T]) -> T:
    """Runs a query on the audit log; a rule it breaks is one line on stderr, exit code 2."""
    from domain.errors import DomainError
    from parley.bootstrap import audit_log

    with _event_log() as event_log:
        try:
            return query(audit_log(event_log))
        except DomainError as error:
            fail(str(error))


def _show(entries: Iterable[AuditEntry], as_json: bool, limit: int | None,
          with_state: bool = False) -> None:
    if as_json:
        for entry in itertools.islice(entries, limit):
            typer.echo(json.dumps(entry.as_json()))
        return
    from rich.console import Console
    from rich.table import Column, Table

    ids = [Column(name, overflow="fold", min_width=8)
           for name in ("aggregate", "actor", "correlation", "causation")]
    table = Table("pos", "time", Column("type", overflow="fold"), ids[0], "ver", *ids[1:],
                  Column("state after" if with_state else "payload", overflow="fold"))
    last = 0
    rows = limit or TABLE_ROWS
    for shown, entry in enumerate(entries):
        if shown == rows:
            table.caption = f"first {rows} shown: narrow the range, page with --after {last}, " \
                            "or use --json / export"
            break
        body = entry.state if with_state else entry.payload
        table.add_row(str(entry.position), entry.time.isoformat(timespec="seconds"), entry.type,
                      str(entry.aggregate_id), str(entry.version), _id(entry.actor_id),
                      _id(entry.correlation_id), _id(entry.causation_id),
                      json.dumps(body, ensure_ascii=False))
        last = entry.version if with_state else entry.position
    Console().print(table)


def _id(value: uuid.UUID | None) -> str:
    return str(value) if value else "-"


def _list_entries(query: Callable[[AuditLog], Iterator[AuditEntry]], as_json: bool,
                  limit: int | None, with_state: bool = False) -> None:
    def shown(log: AuditLog) -> None:
        _show(query(log), as_json, limit, with_state)

    _answer(shown)


@audit.command("history")
def history(aggregate_id: AggregateId, after: After = 0, limit: Limit = None,
            as_json: AsJson = False) -> None:
    """Every event of one aggregate, with actor, correlation, causation and the state after it."""
    _list_entries(lambda log: log.stream_history(aggregate_id, after), as_json, limit,
                       with_state=True)


@audit.command("actor")
def actor(who: Annotated[str, typer.Argument(help="User id or handle")], start: Start = None,
          end: End = None, after: After = 0, limit: Limit = None,
          as_json: AsJson = False) -> None:
    """Everything one actor did, in a position or time range."""
    from commands.audit.queries import audit_criteria

    _list_entries(lambda log: log.stream(audit_criteria(who, None, (), start, end), after),
                       as_json, limit)


@audit.command("types")
def types(event_types: Annotated[list[str] | None, typer.Argument(
              help="e.g. Message.Edited (none: list the types)")] = None,
          start: Start = None, end: End = None, after: After = 0, limit: Limit = None,
          as_json: AsJson = False) -> None:
    """Every event of the given types in a range; without types, the list of event types."""
    from commands.audit.queries import audit_criteria

    if not event_types:
        for name in _answer(lambda log: log.event_types()):
            typer.echo(name)
        return
    _list_entries(
        lambda log: log.stream(audit_criteria(None, None, event_types, start, end), after),
        as_json, limit)


@audit.command("correlation")
def correlation(correlation_id: Annotated[uuid.UUID, typer.Argument(help="Correlation id")],
                start: Start = None, end: End = None, after: After = 0, limit: Limit = None,
                as_json: AsJson = False) -> None:
    """One request's whole effect: every event carrying this correlation id, across aggregates."""
    from commands.audit.queries import audit_criteria

    _list_entries(
        lambda log: log.stream(audit_criteria(None, correlation_id, (), start, end), after),
        as_json, limit)


@audit.command("state")
def state(aggregate_id: AggregateId,
          version: Annotated[int | None, typer.Option(min=1, help="As of this version")] = None,
          at: Annotated[str | None, typer.Option(help="As of this ISO-8601 time")] = None,
          as_json: AsJson = False) -> None:
    """The state of an aggregate now, as of a version, or as of a time."""
    from commands.audit.queries import log_bound

    if version is not None and at is not None:
        fail("give either --version or --at, not both")

    def found(log: AuditLog) -> Any:
        moment = log_bound(at, "at") if at else None
        if isinstance(moment, int):
            fail("--at is an ISO-8601 time")
        return log.state(aggregate_id, version=version, at=moment)

    result = _answer(found)
    body = {"aggregate_id": str(result.aggregate_id), "aggregate_type": result.aggregate_type,
            "version": result.version, "time": result.time.isoformat(), "state": result.state}
    if as_json:
        typer.echo(json.dumps(body))
        return
    _print_fields(f"{result.aggregate_type} {result.aggregate_id} at version "
                  f"{result.version} ({body['time']})",
                  [(k, json.dumps(v, ensure_ascii=False)) for k, v in result.state.items()])


@audit.command("diff")
def diff(aggregate_id: AggregateId,
         from_version: Annotated[int, typer.Argument(min=0, help="Older version (0: before)")],
         to_version: Annotated[int, typer.Argument(min=1, help="Newer version")],
         as_json: AsJson = False) -> None:
    """Field-level differences between two versions of an aggregate."""
    result = _answer(lambda log: log.diff(aggregate_id, from_version, to_version))
    changes = [{"path": c.path, "before": c.before, "after": c.after} for c in result.changes]
    if as_json:
        typer.echo(json.dumps({"aggregate_id": str(aggregate_id),
                               "aggregate_type": result.aggregate_type,
                               "from_version": from_version, "to_version": to_version,
                               "changes": changes}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("field", "before", "after",
                  title=f"{result.aggregate_type} {aggregate_id}: "
                        f"version {from_version} -> {to_version}")
    for change in changes:
        table.add_row(change["path"], json.dumps(change["before"], ensure_ascii=False),
                      json.dumps(change["after"], ensure_ascii=False))
    Console().print(table)


@audit.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON-lines file to write")],
    aggregate_id: Annotated[uuid.UUID | None, typer.Option(
        "--aggregate", help="One aggregate's history")] = None,
    who: Annotated[str | None, typer.Option("--actor", help="User id or handle")] = None,
    event_types: Annotated[list[str] | None, typer.Option(
        "--type", help="Event type (repeatable)")] = None,
    correlation_id: Annotated[uuid.UUID | None, typer.Option("--correlation")] = None,
    start: Start = None, end: End = None, after: After = 0,
) -> None:
    """Writes matching events (or one aggregate's history) to a file as JSON lines, streaming."""
    from commands.audit.queries import audit_criteria

    def written(log: AuditLog) -> int:
        entries = (log.stream_history(aggregate_id, after) if aggregate_id else log.stream(
            audit_criteria(who, correlation_id, event_types or (), start, end), after))
        count = 0
        with output.open("w", encoding="utf-8") as file:
            for entry in entries:
                file.write(json.dumps(entry.as_json()) + "\n")
                count += 1
        return count

    typer.echo(f"exported {_answer(written)} events to {output}", err=True)


def _print_fields(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("field", "value", title=title)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _change_role(handle: str, role: str, grant: bool) -> None:
    from commands.identity.roles import GrantRole, RevokeRole
    from domain.errors import DomainError
    from domain.identity.roles import operator_actor_id
    from domain.identity.users import user_id_for_handle
    from event_log.aggregate import Cause
    from event_log.writer import GroupCommitWriter
    from parley.bootstrap import HANDLERS

    operator = _operator()
    with _event_log() as event_log:
        writer = GroupCommitWriter(event_log, HANDLERS)
        writer.start()
        try:
            user_id = user_id_for_handle(handle)
            command = (GrantRole if grant else RevokeRole)(user_id, role, operator)
            outcome = writer.execute(command, Cause(operator_actor_id(operator), uuid.uuid4()))
        except DomainError as error:
            fail(f"{handle}: {error}")
        finally:
            writer.stop()
    held = ", ".join(outcome.result.roles) or "none"
    if not outcome.result.changed:
        typer.echo(f"{handle}: nothing to change (roles: {held})")
    else:
        typer.echo(f"{handle}: {'granted' if grant else 'revoked'} {role} (roles: {held}) "
                   f"at position {outcome.position}")


def _operator() -> str:
    """Who runs the command, as recorded with the grant: the login of the operator's shell."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@roles.command("grant")
def grant(handle: Handle, role: Role) -> None:
    """Grant a role; recorded in the log with the operator's login."""
    _change_role(handle, role, grant=True)


@roles.command("revoke")
def revoke(handle: Handle, role: Role) -> None:
    """Revoke a role; it stops counting at the user's next request."""
    _change_role(handle, role, grant=False)


@roles.command("show")
def show(handle: Handle) -> None:
    """The roles a user holds now."""
    from commands.identity.roles import held_roles
    from domain.errors import DomainError
    from domain.identity.users import user_id_for_handle

    with _event_log() as event_log:
        try:
            held = held_roles(event_log.repository, user_id_for_handle(handle))
        except DomainError as error:
            fail(f"{handle}: {error}")
    typer.echo(f"{handle}: {', '.join(sorted(held)) or 'none'}")
