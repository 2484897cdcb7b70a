"""Payments: send in a conversation, list, read, cancel, refund, report (H5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
