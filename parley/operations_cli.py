"""`parley replay` and `parley projections ...`: operators' commands over read models."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from parley.cli_settings import command_settings
from parley.operations import Operations, UnknownProjection
from parley.operations_wiring import build_operations
from parley.settings import MissingSetting, Settings
from projections.read_model.replay import ReplayRequest

projections_app = typer.Typer(help="Read models: status, parked events, retry.",
                              no_args_is_help=True)
console = Console()


def _operations() -> Operations:
    settings: Settings = command_settings()
    for chatty in ("elastic_transport", "kafka"):  # a request log would bury the tables
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return build_operations(settings)
    except MissingSetting as error:
        typer.echo(f"parley: {error}", err=True)
        raise typer.Exit(2) from error


@contextlib.contextmanager
def _operating() -> Iterator[Operations]:
    """Operations for one command: an unknown projection or bad value exits 2; always closed."""
    operations = _operations()
    try:
        yield operations
    except (UnknownProjection, ValueError) as error:
        typer.echo(f"parley: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        operations.close()


def _bound(value: str | None, option: str) -> tuple[int | None, datetime | None]:
    """A log position (an integer) or an ISO 8601 time with its offset."""
    if value is None:
        return None, None
    if value.isdigit():
        return int(value), None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        typer.echo(f"parley: {option} takes a log position or an ISO 8601 time with an offset, "
                   f"e.g. 2026-11-26T10:00:00+00:00", err=True)
        raise typer.Exit(2)
    return None, moment


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s", style="cyan")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def replay(
    projection: Annotated[list[str] | None,
                          typer.Argument(help="Projections to rebuild (see status)")] = None,
    everything: bool = typer.Option(False, "--all", help="Rebuild every projection"),
    start: str = typer.Option(None, "--from", help="Log position or ISO time to start at"),
    until: str = typer.Option(None, "--until", help="Log position or ISO time to stop at"),
    into: str = typer.Option(None, "--into", help="Name of an inspection target (no switch)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be rebuilt"),
    prune: bool = typer.Option(False, "--prune", help="Delete generations no longer serving"),
    batch_size: int = typer.Option(1000, min=1, max=20_000, help="Events per read"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
) -> None:
    """Rebuild read models from the event log into a fresh generation, then switch to it."""
    if not projection and not everything:
        typer.echo("parley: name projections to replay, or --all", err=True)
        raise typer.Exit(2)
    from_position, from_time = _bound(start, "--from")
    until_position, until_time = _bound(until, "--until")
    with _operating() as operations:
        chosen = operations.select(projection or [], everything)
        if prune:
            for projector in chosen:
                for gone in operations.generations.prune(projector):
                    console.print(f"pruned {gone}")
            return
        request = ReplayRequest(chosen, from_position, until_position, from_time, until_time,
                                into, batch_size)
        replayer = operations.replayer()
        if dry_run:
            _print_plan(replayer.plan(request), as_json)
            return
        _run_replay(replayer, request, as_json)


def _print_plan(plan: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"events": plan.events, "first_position": plan.first_position,
                               "last_position": plan.last_position, "switches": plan.switches,
                               "rebuilds": [asdict(r) for r in plan.rebuilds]}))
        return
    table = Table(title=f"dry run: {plan.events:,} events "
                        f"(positions {plan.first_position}..{plan.last_position})")
    for column in ("projection", "collections", "serving", "target", "resume after"):
        table.add_column(column)
    for r in plan.rebuilds:
        table.add_row(r.projection, ", ".join(r.collections), f"generation {r.serving}",
                      r.target, str(r.resume_after))
    console.print(table)
    console.print("switches when caught up" if plan.switches else
                  "inspection target: the serving read models are not touched")


def _run_replay(replayer: Any, request: ReplayRequest, as_json: bool) -> None:
    stopping = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stopping.set())
    columns = (TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(), RateColumn(),
               TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, disable=as_json) as bar:
            task = bar.add_task("replay", total=None)

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            summary = replayer.run(request, report, stopping.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    if as_json:
        typer.echo(json.dumps(asdict(summary) | {"interrupted": stopping.is_set(),
                                                 "events_per_second":
                                                 round(summary.events_per_second, 1)}))
    else:
        _print_summary(summary, stopping.is_set())
    if stopping.is_set():
        raise typer.Exit(130)


def _print_summary(summary: Any, interrupted: bool) -> None:
    if interrupted:
        console.print(f"interrupted at position {summary.last_position}: run the same command "
                      "again to resume from its checkpoint")
        return
    console.print(f"replayed {summary.events:,} events into {summary.documents:,} document "
                  f"changes in {summary.seconds:.1f}s ({summary.events_per_second:,.0f} "
                  f"events/s), up to position {summary.last_position}")
    table = Table()
    for column in ("projection", "now serving", "where"):
        table.add_column(column)
    for name in summary.projections:
        generation = summary.switched_to.get(name)
        table.add_row(name, f"generation {generation}" if generation else "(inspection)",
                      ", ".join(sorted(set(summary.targets.get(name, {}).values()))))
    console.print(table)
    if summary.parked:
        console.print(f"[yellow]{summary.parked} parked event(s): see 'parley projections "
                      "status' and 'parley projections retry'")


@projections_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="JSON lines")) -> None:
    """Each projection's position, lag, where it lives, parked events and last error."""
    with _operating() as operations:
        statuses = operations.status()
    if as_json:
        for s in statuses:
            typer.echo(json.dumps(_plain(asdict(s))))
        return
    table = Table(title="projections")
    for column in ("projection", "position", "lag (events)", "lag (s)", "parked", "where",
                   "last error"):
        table.add_column(column)
    for s in statuses:
        error = f"{s.last_error} ({s.last_error_at:%Y-%m-%d %H:%M:%S})" if s.last_error else ""
        table.add_row(s.projection, str(s.position), str(s.lag_events), f"{s.lag_seconds:.1f}",
                      str(s.parked), ", ".join(sorted(set(s.locations.values()))), error)
    console.print(table)


@projections_app.command("parked")
def parked(projection: str = typer.Argument(None),
           as_json: bool = typer.Option(False, "--json", help="JSON lines")) -> None:
    """Events projectors could not project, in log order."""
    with _operating() as operations:
        if projection:
            operations.select([projection])
        found = operations.health.parked(projection)
    if as_json:
        for p in found:
            typer.echo(json.dumps(_plain(asdict(p))))
        return
    table = Table(title=f"{len(found)} parked event(s)")
    for column in ("projection", "position", "event", "attempts", "error"):
        table.add_column(column)
    for p in found:
        table.add_row(p.projection, str(p.position), p.event_type, str(p.attempts), p.error)
    console.print(table)


@projections_app.command("retry")
def retry(projection: str = typer.Argument(None),
          as_json: bool = typer.Option(False, "--json", help="JSON lines")) -> None:
    """Re-project parked events (after a fix); those that succeed are unparked."""
    with _operating() as operations:
        outcomes = operations.retry(projection)
    if as_json:
        for o in outcomes:
            typer.echo(json.dumps(asdict(o)))
    else:
        resolved = sum(o.resolved for o in outcomes)
        console.print(f"{resolved} of {len(outcomes)} parked event(s) projected")
        for o in outcomes:
            if not o.resolved:
                console.print(f"  still parked: {o.projection} @ {o.position}: {o.error}")
    if any(not o.resolved for o in outcomes):
        raise typer.Exit(1)
