"""`parley notifications stats` as a table (parley/notifications_cli.py): each table shows the
columns its rows are grouped by, so no two rows look the same."""

from __future__ import annotations

from typing import Any

import pytest

from parley.notifications_cli import _print_report


def a_report(group_by: list[str], suppressed: list[dict[str, Any]]) -> dict[str, Any]:
    return {"from": "2026-12-01T00:00:00+00:00", "to": "2026-12-02T00:00:00+00:00",
            "group_by": group_by, "interval": None, "groups": [], "latency": [], "cost": [],
            "suppressed": suppressed, "truncated": False}


def suppressed_table(printed: str) -> list[str]:
    return [line for line in printed.split("Suppressed", 1)[1].splitlines() if line.strip()]


def test_suppressions_by_category_show_the_category_of_each_row(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    rows = [{"category": category, "channel": "email", "reason": "reachability", "count": 1}
            for category in ("marketing", "mention", "message", "system")]
    _print_report(a_report(["category", "channel", "provider"], rows))
    table = suppressed_table(capsys.readouterr().out)
    assert "category" in table[1] and "provider" not in table[1]
    for category in ("marketing", "mention", "message", "system"):
        assert len([line for line in table if category in line]) == 1, table


def test_suppressions_grouped_by_status_alone_need_no_other_column(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    _print_report(a_report(["status"], [{"reason": "opted out", "count": 3}]))
    table = suppressed_table(capsys.readouterr().out)
    assert "status" not in table[1] and "channel" not in table[1] and "reason" in table[1]
    assert any("opted out" in line and "3" in line for line in table)
