"""`parley vapid generate`: a VAPID key pair for the Web Push provider (RFC 8292)."""

from __future__ import annotations

import typer

vapid = typer.Typer(help="VAPID keys that identify Parley to Web Push services.",
                    no_args_is_help=True)


@vapid.command("generate")
def vapid_generate() -> None:
    """Print a new VAPID key pair: the private key and the applicationServerKey.

    One `name=value` line each. vapid_private_key is secret: it goes in the webpush provider
    entry (or in the file its vapid_private_key_file names). application_server_key is public:
    browsers pass it to PushManager.subscribe() as applicationServerKey.
    """

    from adapters.notifications.vapid import new_key_pair

    pair = new_key_pair()
    typer.echo(f"vapid_private_key={pair.private_key}")
    typer.echo(f"application_server_key={pair.application_server_key}")
