"""The problem+json answer itself (RFC 9457): what `problems`, the method check and the
outage handlers all send, so none of them imports another for it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from api.http.request_ids import REQUEST_ID_HEADER, current_request_id

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int, title: str, detail: str = "", *, errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None, problem_type: str = "about:blank",
) -> JSONResponse:
    body: dict[str, Any] = {"type": problem_type, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    request_id = current_request_id.get()
    if request_id is not None:
        body["request_id"] = request_id
        headers = {REQUEST_ID_HEADER: request_id} | (headers or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
