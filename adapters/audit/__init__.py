"""Audit's adapters: reading the event log as stored."""
