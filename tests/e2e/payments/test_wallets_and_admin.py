"""Wallets, statements, reports, the review queue and the admin routes end to end, in
process (embedded): balances in both money forms with what is left of the limits; a
statement a page at a time; a report; the queue with its evidence; rules published as a new
version; a tier set; the ledger balanced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.builders import Person
from tests.e2e.payments.in_process import REVIEW_OVER, Payments, in_process


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payments]:
    yield from in_process(tmp_path_factory.mktemp("payments-wallets") / "data")


def _get(app: Payments, person: Person, path: str, **params: Any) -> dict[str, Any]:
    response = app.http.get(path, headers=person.auth, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_wallets_show_balances_in_both_forms_and_what_is_left(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    position = app.fund(ada, 10_000)
    mine = _get(app, ada, "/v1/wallets", position=position)
    assert mine["tier"] == "unverified"
    usd = next(w for w in mine["wallets"] if w["currency"] == "USD")
    assert usd["available"] == {"minor_units": 10_000, "decimal": "100.00"}
    paid = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": "10.00",
                                        "currency": "USD"}).json()
    app.until(ada, paid["payment_id"], "settled")
    limits = next(a for a in _get(app, ada, "/v1/wallets")["limits"] if a["currency"] == "USD")
    assert limits["today"]["minor_units"] == 100_000 - 1_000
    theirs = _get(app, bob, "/v1/wallets", position=paid["position"])
    assert any(w["currency"] == "USD" for w in theirs["wallets"])


def test_a_statement_pages_newest_first(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    app.fund(ada, 10_000)
    for amount in (100, 200, 300):
        paid = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": amount,
                                            "currency": "USD"}).json()
        app.until(ada, paid["payment_id"], "settled")
    first = _get(app, ada, "/v1/wallets/USD/statement", limit=2, position=paid["position"])
    assert len(first["postings"]) == 2 and first["next_before"] is not None
    positions = [p["position"] for p in first["postings"]]
    assert positions == sorted(positions, reverse=True)
    rest = _get(app, ada, "/v1/wallets/USD/statement", limit=50, before=first["next_before"])
    assert all(p["position"] < positions[-1] for p in rest["postings"])
    unknown = app.http.get("/v1/wallets/XXX/statement", headers=ada.auth)
    assert unknown.status_code == 422, unknown.text


def test_either_party_reports_the_other_once(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    app.fund(ada, 1_000)
    paid = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": 100,
                                        "currency": "USD"}).json()
    path = f"/v1/payments/{paid['payment_id']}/report"
    first = app.post(bob, path, {"reason": "never asked for this"})
    assert (first.status_code, first.json()["recorded"]) == (202, True), first.text
    assert app.post(bob, path, {"reason": "again"}).json()["recorded"] is False
    assert app.post(app.person("Eve"), path, {"reason": "me too"}).status_code == 404


def test_reviewers_see_the_queue_with_its_evidence(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    rita = app.person("Rita")
    app.grant(rita, "reviewer")
    app.fund(ada, 20_000)
    held = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": REVIEW_OVER + 1,
                                        "currency": "USD"}).json()
    app.until(ada, held["payment_id"], "in_review")
    shown = app.http.get(f"/v1/review/payments/{held['payment_id']}", headers=rita.auth)
    assert shown.status_code == 200, shown.text
    assert shown.json()["assessment"]["outcome"] == "review"
    queue = _get(app, rita, "/v1/review/payments", limit=200)
    assert held["payment_id"] in [p["payment_id"] for p in queue["payments"]]
    unknown = app.http.get(f"/v1/review/payments/{uuid.uuid4()}", headers=rita.auth)
    assert unknown.status_code == 404


def test_admins_publish_rules_set_tiers_and_see_the_ledger_balance(app: Payments) -> None:
    boss, user = app.person("Boss"), app.person("Uma")
    app.grant(boss, "admin")
    rules = _get(app, boss, "/v1/admin/payments/rules")
    published = app.http.put("/v1/admin/payments/rules", headers=boss.auth, json={
        **rules, "review_at": rules["review_at"] + 1, "reason": "tighter"})
    assert published.status_code == 200, published.text
    assert published.json()["version"] == rules["version"] + 1
    assert _get(app, boss, "/v1/admin/payments/rules")["version"] == rules["version"] + 1
    bad = app.http.put("/v1/admin/payments/rules", headers=boss.auth,
                       json={**rules, "review_at": "lots", "reason": "x"})
    assert bad.status_code == 422, bad.text
    tier = app.http.put(f"/v1/admin/payments/users/{user.user_id}/tier", headers=boss.auth,
                        json={"tier": "verified", "reason": "documents checked"})
    assert (tier.status_code, tier.json()["tier"]) == (200, "verified"), tier.text
    limits = _get(app, user, "/v1/wallets")
    assert limits["tier"] == "verified"
    app.fund(user, 500)
    ledger = _get(app, boss, "/v1/admin/payments/ledger", position=tier.json()["position"])
    assert ledger["balanced"] is True, ledger
    # restore the rules the other tests of the module hold payments by
    app.http.put("/v1/admin/payments/rules", headers=boss.auth, json={**rules, "reason": "back"})
