"""Audit over the event log itself: entries and queries, checkpoints, integrity checks."""
