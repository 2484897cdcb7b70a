"""Parley's composition root: settings, wiring per profile, and the `parley` command line."""
