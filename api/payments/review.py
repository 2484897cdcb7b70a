"""The review queue (reviewers): list held payments, decide them (H5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
