"""Operators' routes: health, readiness, and projection maintenance."""
