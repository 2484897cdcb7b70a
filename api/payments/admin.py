"""Admins: the fraud rules, users' tiers (H5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
