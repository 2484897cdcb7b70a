"""Notifications read models: the in-app inbox, the due timers, the providers."""
