"""The verification page's script, run by Node against a stand-in browser: it posts the
fragment's token, takes the token out of the address bar, and says what came of it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.notifications.verification_page import SCRIPT

BROWSER = """
const out = {textContent: ""};
globalThis.document = {getElementById: () => out};
globalThis.location = {hash: HASH, pathname: "/verify-email"};
let address = null;
globalThis.history = {replaceState: (state, title, url) => { address = url; }};
let posted = null;
globalThis.fetch = (url, options) => {
  posted = {url: url, options: options};
  return ANSWER === null ? Promise.reject(new Error("offline"))
    : Promise.resolve({ok: ANSWER.ok, json: () => Promise.resolve(ANSWER.body)});
};
eval(SCRIPT);
setTimeout(() => console.log(JSON.stringify({posted: posted, address: address,
                                             shown: out.textContent})), 50);
"""


def run_page(tmp_path: Path, hash_: str, answer: dict[str, Any] | None) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed: the page's script is not run here")
    harness = (BROWSER.replace("HASH", json.dumps(hash_))
               .replace("ANSWER", json.dumps(answer)).replace("SCRIPT", json.dumps(SCRIPT)))
    path = tmp_path / "page.js"
    path.write_text(harness)
    ran = subprocess.run([node, str(path)], capture_output=True, text=True, timeout=10,
                         check=True)
    result: dict[str, Any] = json.loads(ran.stdout)
    return result


def test_the_page_posts_the_token_and_clears_it_from_the_address_bar(tmp_path: Path) -> None:
    seen = run_page(tmp_path, "#token=v1.abc.def", {"ok": True, "body": {"verified": True}})
    assert seen["posted"]["url"] == "v1/contact-points/verify"  # beside the page, any prefix
    options = seen["posted"]["options"]
    assert options["method"] == "POST" and options["credentials"] == "omit"
    assert json.loads(options["body"]) == {"token": "v1.abc.def"}
    assert seen["address"] == "/verify-email"
    assert seen["shown"].startswith("Your email address is verified")


def test_the_page_shows_the_refusal_or_the_outage(tmp_path: Path) -> None:
    refused = run_page(tmp_path, "#token=v1.bad", {"ok": False, "body": {
        "detail": "this verification link is invalid or has expired"}})
    assert refused["shown"] == "this verification link is invalid or has expired"
    offline = run_page(tmp_path, "#token=v1.abc", None)
    assert offline["shown"].startswith("Parley could not be reached")


def test_a_link_without_a_token_posts_nothing(tmp_path: Path) -> None:
    seen = run_page(tmp_path, "", {"ok": True, "body": {}})
    assert seen["posted"] is None
    assert seen["shown"] == "This link has no verification token."
