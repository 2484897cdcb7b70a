"""Audit's routes: the event log as an auditor reads it."""
