"""`parley notifications dead-letters|redrive`: the operators' tools for what the delivery engine
gave up on, from the operator's shell, on either profile.

`dead-letters` reads the notification schedule's read model (embedded: the read-model file;
production: Elasticsearch), so it shows what the projections have reached. `redrive` issues
`RedriveDeadLetters` on the profile's event log, as `parley apikeys` does: the running engine
dispatches each redriven notification again from its first channel. The log decides, so an id
is redriven at most once per dead-lettering, however often it is named or the command is run:
an id that is not dead-lettered (any more) is skipped and said so.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from parley.apikeys_cli import _execute
from parley.cli_settings import command_settings, fail

if TYPE_CHECKING:
    from parley.settings import Settings
    from projections.notifications.schedule import ScheduleQueries
    from projections.read_model.documents import ReadStore

notifications_app = typer.Typer(help="The notification engine's dead letters (list, redrive) "
                                "and its analytics (stats).",
                                no_args_is_help=True)

REDRIVEN_AT_ONCE: Final = 200  # notifications per command
PAGE: Final = 500
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines, one dead letter a line")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                    help="Most dead letters to show, newest first")]
Ids = Annotated[list[uuid.UUID] | None, typer.Option(
    "--id", help="A dead-lettered notification's id (repeatable)")]
Every = Annotated[bool, typer.Option("--all", help="Every dead letter the read model shows")]


@contextlib.contextmanager
def _schedule() -> Iterator[ScheduleQueries]:
    """The notification schedule's read model of the configured profile."""
    from projections.notifications.schedule import ScheduleQueries

    with _read_store(command_settings()) as store:
        yield ScheduleQueries(store)


@contextlib.contextmanager
def _read_store(settings: Settings) -> Iterator[ReadStore]:
    """The read store of the configured profile (embedded: the read-model file)."""
    from parley.assembly import read_models_path
    from parley.reachability import Unreachable, require_reachable

    store: ReadStore
    try:
        if settings.profile == "production":
            from parley.production import read_store

            require_reachable("PARLEY_ELASTICSEARCH_URL", settings.elasticsearch_url or "", 9200)
            store = read_store(settings)
        else:
            if not read_models_path(settings).exists():
                fail(f"no read models in {settings.data_dir} (has Parley run with this "
                     f"PARLEY_DATA_DIR?)")
            from adapters.read_model.sqlite_read_store import SQLiteReadStore

            store = SQLiteReadStore(read_models_path(settings))
    except Unreachable as error:
        fail(str(error))
    try:
        yield store
    finally:
        store.close()


def _dead_letters(schedule: ScheduleQueries, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while len(rows) < limit:
        page, after = schedule.dead_letter_page(min(PAGE, limit - len(rows)), after)
        rows.extend(page)
        if after is None:
            break
    return rows


def _row(document: dict[str, Any]) -> dict[str, Any]:
    at_ms = document.get("dead_lettered_at_ms")
    when = (datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="seconds")
            if isinstance(at_ms, int | float) else None)
    return {"notification_id": document["notification_id"],
            "recipient_id": document.get("recipient_id"), "category": document.get("category"),
            "priority": document.get("priority"), "reason": document.get("reason"),
            "attempts": document.get("attempts"), "last_code": document.get("last_code"),
            "dead_lettered_at": when}


@notifications_app.command("dead-letters")
def dead_letters(as_json: AsJson = False, limit: Limit = 1000) -> None:
    """Dead-lettered notifications, newest first: id, recipient, category, why, how many
    attempts, the last code a provider answered, and when."""
    with _schedule() as schedule:
        rows = [_row(document) for document in _dead_letters(schedule, limit)]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(Column("id", no_wrap=True), Column("recipient", no_wrap=True), "category",
                  Column("reason", overflow="fold"), Column("attempts", justify="right"),
                  "last code", Column("when", no_wrap=True),
                  caption=f"{len(rows)} dead letter{'' if len(rows) == 1 else 's'}")
    for row in rows:
        table.add_row(row["notification_id"], row["recipient_id"] or "-", row["category"] or "-",
                      row["reason"] or "-", str(row["attempts"] or "-"), row["last_code"] or "-",
                      row["dead_lettered_at"] or "-")
    Console().print(table)


@notifications_app.command("redrive")
def redrive(ids: Ids = None, every: Every = False,
            as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False
            ) -> None:
    """Dispatch dead letters again, from their first channel: those named with --id, or
    --all of them. Each is redriven at most once; what is not dead-lettered is skipped."""
    from commands.notifications.trigger import RedriveDeadLetters

    if bool(ids) == every:
        fail("name the notifications with --id (repeatable), or redrive --all")
    if every:
        with _schedule() as schedule:
            ids = [uuid.UUID(d["notification_id"])
                   for d in _dead_letters(schedule, 10**9)]
    wanted = list(dict.fromkeys(ids or ()))
    redriven: list[str] = []
    skipped: list[str] = []
    position = None
    for start in range(0, len(wanted), REDRIVEN_AT_ONCE):
        chunk = tuple(wanted[start:start + REDRIVEN_AT_ONCE])
        outcome = _execute(RedriveDeadLetters(chunk, datetime.now(UTC)))
        redriven += [str(nid) for nid in outcome.result.redriven]
        skipped += [str(nid) for nid in outcome.result.skipped]
        position = outcome.position
    if as_json:
        typer.echo(json.dumps({"redriven": redriven, "skipped": skipped, "position": position}))
        return
    for nid in redriven:
        typer.echo(f"redriven {nid}")
    for nid in skipped:
        typer.echo(f"skipped {nid}: not dead-lettered (redriven already, or never was)")
    typer.echo(f"{len(redriven)} redriven, {len(skipped)} skipped", err=True)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO 8601 time (e.g. 2026-12-01T00:00:00Z)")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if isinstance(value, float) else str(value)


@notifications_app.command("stats")
def stats(
        since: Annotated[str | None, typer.Option(
            "--from", help="Start (inclusive), ISO 8601; UTC if no offset; default: a day "
                           "before --to")] = None,
        until: Annotated[str | None, typer.Option(
            "--to", help="End (exclusive), ISO 8601; default: now")] = None,
        group_by: Annotated[str | None, typer.Option(
            "--group-by", help="Comma-separated: category, channel, provider, priority, "
                               "status (default category,channel,provider)")] = None,
        interval: Annotated[str | None, typer.Option(
            "--interval", help="hour or day buckets")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> None:
    """Notification analytics over a time range, from the analytics read model: counts and
    rates per group, suppressions by reason, latency percentiles per priority, cost."""
    from api.notifications.analytics import analytics_out
    from projections.notifications.analytics_report import (
        AnalyticsQueries,
        BadAnalyticsRequest,
        Price,
        analytics_request,
    )

    try:
        request = analytics_request(_moment(since, "--from"),
                                    _moment(until, "--to") or datetime.now(UTC),
                                    group_by.split(",") if group_by else None, interval)
    except BadAnalyticsRequest as error:
        fail(f"--{error.field.replace('_', '-')}: {error}")
    settings = command_settings()
    prices = {name: Price(p.message_micros, p.segment_micros)
              for name, p in settings.notification_prices.items()}
    with _read_store(settings) as store:
        report = analytics_out(AnalyticsQueries(store, prices).report(request))
    if as_json:
        typer.echo(json.dumps(report))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    keys = [*report["group_by"], *(["time"] if report["interval"] else [])]
    counts = Table(*keys, "notifications", "sent", "delivered", "failed", "suppressed",
                   "opened", "clicked", "delivered/sent",
                   title=f"Notifications {report['from']} to {report['to']}",
                   caption="more groups than shown: narrow the range" if report["truncated"]
                   else None)
    for group in report["groups"]:
        rates = group.get("rates") or {}
        counts.add_row(*[_cell(group.get(k)) for k in keys], str(group["notifications"]),
                       str(group["sent"]), str(group["delivered"]),
                       str(group["statuses"].get("failed", 0)),
                       str(group["statuses"].get("suppressed", 0)), str(group["opened"]),
                       str(group["clicked"]), _cell(rates.get("delivered")))
    console.print(counts)
    latency = Table("priority", "delivered", "p50 ms", "p90 ms", "p99 ms",
                    title="Request to delivery")
    for row in report["latency"]:
        latency.add_row(*[_cell(row[k]) for k in ("priority", "delivered", "p50_ms", "p90_ms",
                                                   "p99_ms")])
    console.print(latency)
    cost = Table("channel", "provider", "messages", "segments", "reported µ", "priced µ",
                 "cost µ", title="Cost (millionths of the currency unit)")
    for row in report["cost"]:
        cost.add_row(*[_cell(row[k]) for k in ("channel", "provider", "messages", "segments",
                                               "reported_cost_micros", "priced_cost_micros",
                                               "cost_micros")])
    console.print(cost)
    if report["suppressed"]:
        # grouped as the counts are, but for the status and provider (a suppression has none)
        grouped = [k for k in keys if k not in ("status", "provider")]
        suppressed = Table(*grouped, "reason", "count", title="Suppressed")
        for row in report["suppressed"]:
            suppressed.add_row(*[_cell(row.get(k)) for k in grouped], _cell(row["reason"]),
                               str(row["count"]))
        console.print(suppressed)
