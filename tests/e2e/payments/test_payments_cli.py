"""`parley payments review show|reject` against the log of a running (in-process, embedded)
Parley: a held payment rejected from the operator's shell is reversed by the running saga;
a user without the reviewer role is refused, and nothing is decided."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from parley.cli import app as cli
from tests.e2e.payments.in_process import REVIEW_OVER, Payments, in_process


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payments]:
    yield from in_process(tmp_path_factory.mktemp("payments-cli") / "data")


def _run(app: Payments, *args: str) -> tuple[int, str]:
    env = {"PARLEY_DATA_DIR": str(app.data_dir), "PARLEY_DATABASE_URL": ""}
    result = CliRunner().invoke(cli, ["payments", *args], env=env)
    return result.exit_code, result.output


def test_a_held_payment_rejected_from_the_shell_is_reversed(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    rita, eve = app.person("Rita"), app.person("Eve")
    app.grant(rita, "reviewer")
    app.fund(ada, 20_000)
    held = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": REVIEW_OVER + 1,
                                        "currency": "USD"}).json()
    payment_id = held["payment_id"]
    app.until(ada, payment_id, "in_review")
    code, listed = _run(app, "review", "list")
    assert code == 0 and payment_id in listed, listed
    code, shown = _run(app, "review", "show", payment_id)
    assert code == 0 and '"in_review"' in shown, shown
    code, refused = _run(app, "review", "reject", payment_id, "--reason", "mule",
                         "--as", eve.handle)
    assert code == 2, refused
    assert app.payment(ada, payment_id).json()["status"] == "in_review"
    code, done = _run(app, "review", "reject", payment_id, "--reason", "looks like a mule",
                      "--as", rita.handle)
    assert code == 0, done
    assert app.until(ada, payment_id, "reversed")["status"] == "reversed"


def test_the_ledger_totals_balance(app: Payments) -> None:
    ada, _, _ = app.pair()
    app.fund(ada, 700)
    code, printed = _run(app, "ledger")
    assert code == 0, printed
    totals = json.loads(printed.strip().splitlines()[-1])
    assert totals["USD"]["balanced"] is True, totals
    assert _run(app, "review", "show", str(uuid.uuid4()))[0] == 2
