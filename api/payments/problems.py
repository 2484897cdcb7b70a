"""The payments context's own answers to its errors, in place of their bases' (declared by its
manifest, installed by create_app).

- `LimitExceeded` is 422 (the amount is what is wrong, as with any invalid amount; not 403,
  which here means a role the caller lacks) and says what the caller may still send:
  `remaining` (Allowance.as_document: per_transaction, today, this_month, in minor units).
- `InsufficientFunds`, `PaymentStateConflict`: 409, as their base.
- `UnknownCurrency`, `InvalidAmount`, `MixedCurrencies`, `CardNumberRefused`: 422, each with
  its own title; a card-number refusal names where (body, query or path), never the digits.
- `PaymentNotFound` answers one body, whatever the command said: to someone who is not a
  party, a payment answers exactly as one that does not exist.
- `NotAReviewer`: 403.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from api.http.problem_json import PROBLEM_JSON, problem_response
from api.http.problems import ProblemRefinement
from api.http.request_ids import REQUEST_ID_HEADER, current_request_id
from domain.errors import DomainError
from domain.payments.errors import (
    CardNumberRefused,
    InsufficientFunds,
    InvalidAmount,
    LimitExceeded,
    MixedCurrencies,
    NotAReviewer,
    PaymentNotFound,
    PaymentStateConflict,
    UnknownCurrency,
)

NO_SUCH_PAYMENT = "no such payment"


def _field_errors(error: DomainError) -> list[dict[str, Any]]:
    return [{"field": error.field, "message": str(error), "type": "rule"}]


def _over_limit(error: LimitExceeded) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": "Limit exceeded", "status": 422,
                            "detail": str(error), "errors": _field_errors(error),
                            "remaining": error.remaining.as_document()}
    headers: dict[str, str] = {}
    request_id = current_request_id.get()
    if request_id is not None:
        body["request_id"] = request_id
        headers[REQUEST_ID_HEADER] = request_id
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON, headers=headers)


def _invalid(title: str) -> Any:
    def answer(error: DomainError) -> JSONResponse:
        return problem_response(422, title, str(error), errors=_field_errors(error))

    return answer


def _conflict(title: str) -> Any:
    def answer(error: DomainError) -> JSONResponse:
        return problem_response(409, title, str(error))

    return answer


def _not_found(_: PaymentNotFound) -> JSONResponse:
    return problem_response(404, "Not found", NO_SUCH_PAYMENT)


def _not_a_reviewer(error: NotAReviewer) -> JSONResponse:
    return problem_response(403, "Forbidden", str(error))


PROBLEMS: tuple[ProblemRefinement[Any], ...] = (
    ProblemRefinement(LimitExceeded, _over_limit),
    ProblemRefinement(CardNumberRefused, _invalid("Card number refused")),
    ProblemRefinement(UnknownCurrency, _invalid("Unknown currency")),
    ProblemRefinement(InvalidAmount, _invalid("Invalid amount")),
    ProblemRefinement(MixedCurrencies, _invalid("Mixed currencies")),
    ProblemRefinement(InsufficientFunds, _conflict("Insufficient funds")),
    ProblemRefinement(PaymentStateConflict, _conflict("Payment state conflict")),
    ProblemRefinement(PaymentNotFound, _not_found),
    ProblemRefinement(NotAReviewer, _not_a_reviewer),
)
