"""`parley apikeys create|list|revoke`: API keys for services, from the operator's shell.

Each writes or reads the event log of the configured profile directly (embedded: the data
directory; production: PostgreSQL), as `parley roles` does: nothing else needs to run, a key
works the moment it is created and stops the moment it is revoked. A key is printed once, by
`create`; the log holds only its digest, so nothing can show it again.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from parley.audit_queries_cli import _event_log, _operator
from parley.cli_settings import command_settings, fail

if TYPE_CHECKING:
    from commands.identity.api_keys import ApiKeySummary

apikeys = typer.Typer(help="API keys for services calling Parley (scopes, revocation).",
                      no_args_is_help=True)

Name = Annotated[str, typer.Option("--name", help="What the key is for (1 to 64 characters)")]
Scopes = Annotated[list[str], typer.Option(
    "--scope", help="A scope the key grants (repeatable): notifications:trigger, "
                    "notifications:read, notifications:admin")]
KeyId = Annotated[str, typer.Argument(help="The key's id (16 hex digits, as `list` shows)")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines, one key a line")]


def _execute(command: Any) -> Any:
    """Runs one command on the configured profile's log; a rule it breaks exits 2."""
    from domain.errors import DomainError
    from domain.identity.roles import operator_actor_id
    from event_log.aggregate import Cause
    from event_log.writer import GroupCommitWriter
    from parley.bootstrap import HANDLERS

    with _event_log() as event_log:
        writer = GroupCommitWriter(event_log, HANDLERS)
        writer.start()
        try:
            return writer.execute(command, Cause(operator_actor_id(_operator()), uuid.uuid4()))
        except DomainError as error:
            fail(str(error))
        finally:
            writer.stop()


@apikeys.command("create")
def create(name: Name, scopes: Scopes) -> None:
    """Make a key and print it, once: store it where the service keeps its secrets."""
    from commands.identity.api_keys import IssueApiKey, new_api_key

    settings = command_settings()
    key = new_api_key()
    outcome = _execute(IssueApiKey(key.key_id, name, tuple(scopes), key.digest,
                                   datetime.now(UTC), _operator(), settings.max_api_keys))
    issued = outcome.result
    typer.echo(f"key id: {issued.key_id}\nname: {issued.name}\n"
               f"scopes: {', '.join(issued.scopes)}", err=True)
    typer.echo("this key is shown once; Parley keeps only its digest:", err=True)
    typer.echo(key.presented)


@apikeys.command("list")
def list_keys(as_json: AsJson = False) -> None:
    """Every key issued, oldest first: id, name, scopes, created, revoked (never the key)."""
    from commands.identity.api_keys import issued_api_keys

    with _event_log() as event_log:
        keys = issued_api_keys(event_log.repository)
    if as_json:
        for key in keys:
            typer.echo(json.dumps(_row(key)))
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(Column("id", no_wrap=True), Column("name", overflow="fold"),
                  Column("scopes", overflow="fold"), Column("created", no_wrap=True),
                  Column("revoked", no_wrap=True), "created by")
    for key in keys:
        row = _row(key)
        table.add_row(row["key_id"], row["name"], " ".join(row["scopes"]), row["created"],
                      row["revoked"] or "-", row["created_by"] or "-")
    Console().print(table)


def _row(key: ApiKeySummary) -> dict[str, Any]:
    def time(at: datetime | None) -> str | None:
        return at.isoformat(timespec="seconds") if at else None

    return {"key_id": key.key_id, "name": key.name, "scopes": list(key.scopes),
            "created": time(key.issued_at), "revoked": time(key.revoked_at),
            "created_by": key.issued_by}


@apikeys.command("revoke")
def revoke(key_id: KeyId) -> None:
    """Revoke a key: every request presenting it is refused from now on."""
    from commands.identity.api_keys import RevokeApiKey

    outcome = _execute(RevokeApiKey(key_id, datetime.now(UTC)))
    revoked = outcome.result
    if not revoked.changed:
        typer.echo(f"{revoked.key_id} ({revoked.name}): revoked already")
    else:
        typer.echo(f"{revoked.key_id} ({revoked.name}): revoked at position {outcome.position}")
