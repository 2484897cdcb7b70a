"""`parley audit verify` and `checkpoint` from the operator's shell, against a running Parley."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest

from parley.launcher import ParleyProcesses
from parley.signing_keys import generate_key
from tests.builders import ParleyClient
from tests.e2e.conftest import PROFILES
from tests.e2e.test_audit import an_auditor

pytestmark = [PROFILES, pytest.mark.parley_env(PARLEY_AUDIT_KEY=generate_key(),
                                               PARLEY_CHECKPOINT_EVERY_SECONDS="0.5")]


def parley_audit(processes: ParleyProcesses, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "parley", "audit", *args, "--json"],
                          env=processes.env, capture_output=True, timeout=120, check=False)
    assert done.stdout, done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


def change_stored_event(processes: ParleyProcesses, position: int) -> None:
    """What an attacker with the database in hand does, past the append-only guard."""
    if processes.env.get("PARLEY_DATABASE_URL"):
        namespace = processes.env["PARLEY_NAMESPACE"]
        with psycopg.connect(processes.env["PARLEY_DATABASE_URL"], autocommit=True) as db:
            db.execute("SET session_replication_role = replica")
            db.execute(f"UPDATE {namespace}.parley_events SET state = %s "
                       "WHERE notification_id = %s".encode(), (b'{"text":"forged"}', position))
        return
    with sqlite3.connect(f"{processes.env['PARLEY_DATA_DIR']}/events.sqlite3") as db:
        for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                   (b'{"text":"forged"}', position))


def cut_the_tail(processes: ParleyProcesses, after: int) -> None:
    """Deletes every event after `after`, with its chain link, past the append-only guard."""
    if processes.env.get("PARLEY_DATABASE_URL"):
        namespace = processes.env["PARLEY_NAMESPACE"]
        with psycopg.connect(processes.env["PARLEY_DATABASE_URL"], autocommit=True) as db:
            db.execute("SET session_replication_role = replica")
            for table in ("parley_events", "parley_event_hashes"):
                db.execute(f"DELETE FROM {namespace}.{table} "
                           "WHERE notification_id > %s".encode(), (after,))
        return
    with sqlite3.connect(f"{processes.env['PARLEY_DATA_DIR']}/events.sqlite3") as db:
        for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DELETE FROM stored_events WHERE rowid > ?", (after,))
        db.execute("DELETE FROM parley_event_hashes WHERE notification_id > ?", (after,))


def wait_for_signed_head(processes: ParleyProcesses, head: int) -> dict[str, Any]:
    """The running Parley (serve embedded, relay in production) signs the head on its own."""
    deadline = time.monotonic() + 30
    while True:
        _code, report = parley_audit(processes, "verify")
        if report["checkpoints_checked"] and report["last_verified_position"] >= head:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.5)


def test_verify_passes_on_a_fresh_log_and_fails_at_the_tampered_event(
    processes: ParleyProcesses, parley: ParleyClient
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    positions = [parley.sent(ada, chat, f"note {i}")["position"] for i in range(5)]
    report = wait_for_signed_head(processes, positions[-1])
    assert report["intact"] and report["signatures_checked"] and report["break"] is None

    change_stored_event(processes, positions[2])

    code, report = parley_audit(processes, "verify")
    assert code == 1 and not report["intact"]
    assert report["break"]["kind"] == "changed"
    assert report["break"]["position"] == positions[2]
    code, before_it = parley_audit(processes, "verify", "--until", str(positions[2] - 1))
    assert code == 0 and before_it["intact"]


def test_checkpoint_signs_the_head_once_until_it_moves(
    processes: ParleyProcesses, parley: ParleyClient
) -> None:
    parley.register("Ada")
    code, first = parley_audit(processes, "checkpoint")
    _, again = parley_audit(processes, "checkpoint")
    assert code == 0 and first["checkpoint"]["position"] >= 1
    assert again["checkpoint"]["position"] == first["checkpoint"]["position"]
    assert again["written"] is False


def test_a_log_that_lost_its_tail_after_a_checkpoint_is_truncated_on_the_cli_and_over_http(
    processes: ParleyProcesses, parley: ParleyClient
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    auditor = an_auditor(parley, processes)
    chat = parley.open_direct(ada, bob)
    positions = [parley.sent(ada, chat, f"note {i}")["position"] for i in range(4)]
    _, signed = parley_audit(processes, "checkpoint")
    head = signed["checkpoint"]["position"]
    assert head >= positions[-1]

    cut_the_tail(processes, after=positions[1])

    code, report = parley_audit(processes, "verify")
    assert code == 1 and not report["intact"]
    assert report["break"]["kind"] == "truncated"
    assert positions[1] < report["break"]["position"] <= head
    answer = parley.http.get("/v1/audit/verify", headers=auditor.auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["intact"] is False
    assert answer.json()["break"] == report["break"]
    code, before_the_cut = parley_audit(processes, "verify", "--until", str(positions[1] - 1))
    assert code == 0 and before_the_cut["intact"]
