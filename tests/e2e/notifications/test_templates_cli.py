"""`parley templates create|update|versions|preview|list` from the operator's shell, on the
embedded profile's log: what the CLI saves is exact at once, and a template failing
validation is refused with the reason and saves nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return kept | {"PARLEY_DATA_DIR": str(tmp_path_factory.mktemp("templates-cli") / "data"),
                   "COLUMNS": "400"}


def templates(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parley", "templates", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


KEY = ("--category", "payment", "--channel", "email", "--locale", "pt_BR")


def test_create_update_versions_preview_and_list(env: dict[str, str], tmp_path: Path) -> None:
    html = tmp_path / "paid.html"
    html.write_text("<p>Recebemos <b>{{ amount }}</b> {{ currency }}</p>", encoding="utf-8")
    created = ok(templates(env, "create", *KEY, "--title", "Pago {{ amount }}",
                           "--body", "Recebemos {{ amount }} {{ currency }}",
                           "--html-file", str(html), "--sample", '{"amount": "1,00"}'))
    assert "payment/email/pt-BR saved version 1" in created
    updated = ok(templates(env, "update", *KEY, "--title", "Pagamento de {{ amount }}",
                           "--body", "Recebemos {{ amount }} {{ currency }}",
                           "--html-file", str(html)))
    assert "saved version 2" in updated
    versions = lines(ok(templates(env, "versions", *KEY, "--json")))
    assert [(v["version"], v["title"]) for v in versions] == [
        (1, "Pago {{ amount }}"), (2, "Pagamento de {{ amount }}")]
    first = json.loads(ok(templates(env, "preview", *KEY, "--version", "1", "--json")))
    assert (first["title"], first["body"]) == ("Pago 1,00", "Recebemos 1,00 <currency>")
    assert first["html"] == "<p>Recebemos <b>1,00</b> &lt;currency&gt;</p>"
    latest = json.loads(ok(templates(env, "preview", *KEY, "--json", "--variables",
                                     '{"amount": "<9>", "currency": "BRL"}')))
    assert (latest["version"], latest["title"]) == (2, "Pagamento de <9>")
    assert "&lt;9&gt;" in latest["html"]
    [listed] = lines(ok(templates(env, "list", "--json")))
    assert (listed["locale"], listed["version"]) == ("pt-BR", 2)
    assert "pt-BR" in ok(templates(env, "list"))


def test_a_template_failing_validation_is_refused_and_nothing_is_saved(
        env: dict[str, str]) -> None:
    key = ("--category", "account", "--channel", "sms")
    refused = templates(env, "create", *key, "--body", "{{ ''.__class__ }}")
    assert refused.returncode == 2 and "unsafe" in refused.stderr, refused.stderr
    unknown = templates(env, "create", *key, "--body", "{{ password }}")
    assert unknown.returncode == 2 and "unknown variable password" in unknown.stderr
    missing = templates(env, "versions", *key)
    assert missing.returncode == 2 and "no template" in missing.stderr
