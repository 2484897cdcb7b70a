"""What a caller hears when the event log fails under its command: not stored, or not known.

A command is answered 503 only when it is known not to be stored, so a client that gives up
never loses a send that commits later; when a commit failed in doubt and the log could not be
asked in time whether it holds the events, the caller is told the outcome is unknown.
"""

from __future__ import annotations


class CommandNotStored(Exception):
    """The event log did not take the command in time, or refused it: nothing was stored."""


class CommandOutcomeUnknown(Exception):
    """The commit failed in doubt and the log could not be asked in time whether it holds it."""
