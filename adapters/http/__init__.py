"""Adapters for the HTTP machinery: rate limits in Redis."""
