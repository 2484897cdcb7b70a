"""Money requests (H7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
