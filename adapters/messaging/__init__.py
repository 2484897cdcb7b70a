"""Messaging's adapters: the blob store and live updates over Redis."""
