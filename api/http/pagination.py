"""Opaque cursors for paging through read models."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from api.http.problems import Problem

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of a page")]


def encode_cursor(after: list[Any] | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "Bad cursor", "the cursor is not one this API issued") from error
    if not isinstance(after, list) or len(after) != 2 or not all(map(_storable, after)):
        raise Problem(400, "Bad cursor", "the cursor is not one this API issued")
    return after


def _storable(value: Any) -> bool:
    """A sort key every read store can compare with: a 64-bit integer or a UTF-8 string."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, which no store accepts
            return False
        return True
    return False
