"""Funding wallets by card, payouts, the processor's webhooks (H6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
