"""Adapters of process managers: where their positions are kept, and the log as they read it."""
