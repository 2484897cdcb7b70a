"""The `parley audit` command group: `verify` and `checkpoint` here; the queries register too.

`verify` exits 0 when the log is intact and 1 at the first break, so it can gate a cron job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from parley.cli_settings import command_settings, fail

if TYPE_CHECKING:
    from commands.audit.integrity import VerificationReport
    from event_log.hash_chain import Checkpoint
    from event_log.log import EventLog
    from parley.settings import Settings

audit = typer.Typer(help="Inspect and verify the event log.", no_args_is_help=True)
console = Console()

AsJson = Annotated[bool, typer.Option("--json", help="One JSON object on stdout")]


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} events/s", style="progress.data.speed")


def _open_log() -> tuple[Settings, EventLog]:
    from eventsourcing.persistence import PersistenceError

    from event_log.log import EventLog
    from parley.bootstrap import event_log_env

    settings = command_settings()
    try:
        return settings, EventLog(env=event_log_env(settings))
    except (PersistenceError, OSError) as error:
        fail(f"cannot open the event log: {error}")


@audit.command()
def verify(
    start: Annotated[int, typer.Option("--from", min=1, help="First log position")] = 1,
    until: Annotated[int | None, typer.Option("--until", min=1,
                                              help="Last log position (default: the head)")
                     ] = None,
    as_json: AsJson = False,
) -> None:
    """Recompute the hash chain and check the signed checkpoints; exit 1 at the first break."""
    from eventsourcing.persistence import PersistenceError

    from commands.audit.integrity import verify_log
    from parley.bootstrap import audit_key, chain_records

    if until is not None and until < start:
        fail("--until must not be before --from")
    settings, event_log = _open_log()
    try:
        records = chain_records(event_log)
        # only for the progress bar: `verify_log` reads the head itself, and checks the
        # checkpoints signed beyond it (a lost tail) only when the range reaches the head
        last = records.last_position() if until is None else until
        with Progress(TextColumn("verifying"), BarColumn(), TextColumn("{task.completed:,}"),
                      EventsPerSecond(), TimeRemainingColumn(), transient=True,
                      console=Console(stderr=True), disable=as_json) as progress:
            task = progress.add_task("verify", total=max(last - start + 1, 0))
            report = verify_log(
                records, key=audit_key(settings), start=start, until=until,
                on_progress=lambda position, _: progress.update(
                    task, completed=max(position - start + 1, 0)),
            )
    except PersistenceError as error:
        fail(f"cannot read the event log (has 'parley migrate' run?): {error}")
    finally:
        event_log.close()
    _print_report(report, as_json)
    raise typer.Exit(0 if report.intact else 1)


def _print_report(report: VerificationReport, as_json: bool) -> None:
    first_break = report.first_break
    if as_json:
        typer.echo(json.dumps(report.as_json()))
        return
    signatures = ("signatures checked" if report.signatures_checked
                  else "[yellow]signatures NOT checked: no PARLEY_AUDIT_KEY[/yellow]")
    span = (f" (positions {report.start:,}..{report.last_position:,})"
            if report.events_checked else "")
    checked = (f"{_count(report.events_checked, 'event')} verified{span}; "
               f"{_count(report.checkpoints_checked, 'checkpoint')}, {signatures}")
    if first_break is None:
        console.print(f"[bold green]Event log intact.[/bold green] {checked}.")
        return
    console.print(f"[bold red]Event log BROKEN at position {first_break.position:,}: "
                  f"{first_break.kind}.[/bold red]\n  {first_break.detail}\n  Before it: "
                  f"{checked}.")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@audit.command()
def checkpoint(as_json: AsJson = False) -> None:
    """Sign the chain's head with the audit key now (nothing new if the head has not moved)."""
    from eventsourcing.persistence import PersistenceError

    from commands.audit.checkpoints import write_checkpoint
    from parley.bootstrap import audit_key, chain_records

    settings, event_log = _open_log()
    try:
        key = audit_key(settings)
        if key is None:
            fail("PARLEY_AUDIT_KEY is not set (production signs checkpoints with it)")
        outcome = write_checkpoint(chain_records(event_log), key, datetime.now(UTC))
    except PersistenceError as error:
        fail(f"cannot write to the event log (has 'parley migrate' run?): {error}")
    finally:
        event_log.close()
    if as_json:
        typer.echo(json.dumps({"written": outcome.written,
                               "checkpoint": _checkpoint_json(outcome.checkpoint)}))
    elif outcome.checkpoint is None:
        console.print("The event log is empty: nothing to sign.")
    else:
        done = "Signed" if outcome.written else "Head unchanged; latest"
        cp = outcome.checkpoint
        console.print(f"{done} checkpoint at position {cp.position:,}, signed "
                      f"{cp.signed_at.isoformat()}\n  head {cp.head_hash.hex()}\n  "
                      f"signature {cp.signature.hex()}")


def _checkpoint_json(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    return {"position": checkpoint.position, "head_hash": checkpoint.head_hash.hex(),
            "signed_at": checkpoint.signed_at.isoformat(),
            "signature": checkpoint.signature.hex()}
