"""The payments API end to end, in process (embedded): send in a conversation with an
Idempotency-Key (replayed, or 409 with another body), limits answering what is left, cancel,
refunds in part and in full, a payment held for review decided by a reviewer, non-parties
answered as for no payment, reviewers' routes closed to others, bad input never a 500, and
card numbers refused before anything keeps them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import Person
from tests.e2e.payments.in_process import REVIEW_OVER, Payments, in_process

PAN = "4111111111111111"
PAN_SPACED = "4111 1111 1111 1111"
PAIRS: list[tuple[Person, Person, str]] = []  # one pair for the bad-input cases


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payments]:
    yield from in_process(tmp_path_factory.mktemp("payments") / "data")


def test_a_payment_settles_and_a_retry_answers_the_first_answer(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    app.fund(ada, 10_000)
    body = {"recipient_id": bob.user_id, "amount": "12.34", "currency": "USD", "note": "lunch"}
    first = app.send(ada, conversation, body, key="lunch-1")
    assert first.status_code == 202, first.text
    sent = first.json()
    assert sent["amount"] == {"minor_units": 1234, "decimal": "12.34"}
    assert sent["fee"] == {"minor_units": 12, "decimal": "0.12"}
    assert sent["status"] == "initiated"
    again = app.send(ada, conversation, body, key="lunch-1")
    assert again.status_code == 202 and again.json() == sent
    other = app.send(ada, conversation, body | {"amount": 999}, key="lunch-1")
    assert other.status_code == 409, other.text
    assert app.until(ada, sent["payment_id"], "settled")["direction"] == "sent"
    assert app.payment(bob, sent["payment_id"]).json()["direction"] == "received"


def test_every_payment_command_wants_an_idempotency_key(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    response = app.http.post(f"/v1/conversations/{conversation}/payments", headers=ada.auth,
                             json={"recipient_id": bob.user_id, "amount": 100,
                                   "currency": "USD"})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_breach_of_limits_answers_what_is_left(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    app.fund(ada, 100_000)
    response = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": "600.00",
                                            "currency": "USD"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["title"] == "Limit exceeded"
    assert problem["remaining"]["per_transaction"] == 50_000


def test_the_sender_cancels_and_the_recipient_refunds(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    app.fund(ada, 20_000)
    held = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": REVIEW_OVER + 1,
                                        "currency": "USD"}).json()
    app.until(ada, held["payment_id"], "in_review")
    cancelled = app.post(ada, f"/v1/payments/{held['payment_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert app.until(ada, held["payment_id"], "reversed")["status"] == "reversed"

    paid = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": 1_000,
                                        "currency": "USD"}).json()
    app.until(bob, paid["payment_id"], "settled")
    path = f"/v1/payments/{paid['payment_id']}/refunds"
    part = app.post(bob, path, {"amount": 400, "reason": "half the cinema"}, key="r1")
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "partially_refunded"
    assert app.post(bob, path, {"amount": 400, "reason": "half the cinema"},
                    key="r1").json() == part.json()
    assert app.post(ada, path, {"amount": 1, "reason": "mine"}).status_code == 404
    rest = app.post(bob, path, {"amount": "6.00", "reason": "the rest"})
    assert rest.json()["status"] == "refunded", rest.text
    assert app.post(bob, path, {"amount": 1, "reason": "more"}).status_code in (409, 422)


def test_a_held_payment_is_approved_by_a_reviewer(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    reviewer = app.person("Rita")
    app.grant(reviewer, "reviewer")
    app.fund(ada, 20_000)
    held = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": REVIEW_OVER + 1,
                                        "currency": "USD"}).json()
    payment_id = held["payment_id"]
    app.until(ada, payment_id, "in_review")
    decided = app.post(reviewer, f"/v1/review/payments/{payment_id}/decision",
                       {"approve": True, "reason": "known counterparties"})
    assert decided.status_code == 200, decided.text
    assert app.until(ada, payment_id, "settled")["status"] == "settled"


def test_a_payment_answers_others_as_no_payment_does(app: Payments) -> None:
    ada, bob, conversation = app.pair()
    eve = app.person("Eve")
    app.fund(ada, 5_000)
    paid = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": 100,
                                        "currency": "USD"}).json()
    theirs = app.payment(eve, paid["payment_id"])
    unknown = app.payment(eve, str(uuid.uuid4()))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json().keys() == unknown.json().keys()
    assert ({k: v for k, v in theirs.json().items() if k != "request_id"}
            == {k: v for k, v in unknown.json().items() if k != "request_id"})
    cancel_theirs = app.post(eve, f"/v1/payments/{paid['payment_id']}/cancel")
    cancel_unknown = app.post(eve, f"/v1/payments/{uuid.uuid4()}/cancel")
    assert cancel_theirs.status_code == cancel_unknown.status_code == 404


def test_reviewer_routes_are_closed_to_others_alike(app: Payments) -> None:
    eve = app.person("Eve")
    answers = [app.http.get(f"/v1/review/payments/{uuid.uuid4()}", headers=eve.auth),
               app.post(eve, f"/v1/review/payments/{uuid.uuid4()}/decision",
                        {"approve": True, "reason": "x"})]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    assert app.http.get("/v1/admin/payments/rules", headers=eve.auth).status_code == 403


@pytest.mark.parametrize("body", [
    {"amount": 12.5}, {"amount": "12.345"}, {"amount": "-1"}, {"amount": "1e3"},
    {"currency": "XXX"}, {"currency": "US"}, {"amount": None}, {"recipient_id": "nope"},
    {"amount": 10**30}, {"note": "x" * 10_000},
])
def test_bad_input_is_a_problem_never_a_500(app: Payments, body: dict[str, object]) -> None:
    if not PAIRS:
        PAIRS.append(app.pair())
    ada, bob, conversation = PAIRS[0]
    sent = app.send(ada, conversation, {"recipient_id": bob.user_id, "amount": 100,
                                        "currency": "USD"} | body)
    assert sent.status_code == 422, sent.text
    assert sent.headers["content-type"].startswith("application/problem+json")


def _files_hold(directory: Path, digits: str) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and digits.encode() in p.read_bytes()]


def test_card_numbers_are_refused_and_kept_nowhere(app: Payments,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ada, bob, conversation = app.pair()
    app.fund(ada, 5_000)
    base = {"recipient_id": bob.user_id, "amount": 100, "currency": "USD"}
    refused = [
        app.send(ada, conversation, base | {"note": f"my card {PAN_SPACED} exp 12/29"}),
        app.send(ada, conversation, base | {"amount": PAN}),
        app.send(ada, conversation, base | {"extra": {"nested": [PAN]}}),
        app.http.get(f"/v1/payments?before={PAN}", headers=ada.auth),
        app.http.get(f"/v1/wallets/USD/statement?note={PAN_SPACED}", headers=ada.auth),
    ]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["title"] == "Card number refused"
        assert PAN not in response.text
    # the log and read store are on disk (embedded): look at every byte Parley keeps
    assert _files_hold(app.data_dir, PAN) == []
    ours = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records
                     if not r.name.startswith("httpx"))  # the test's own client logs its URLs
    assert PAN not in ours and PAN_SPACED not in ours and "4111%201111" not in ours
