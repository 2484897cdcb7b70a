"""Audit: verifying the log's hash chain."""
