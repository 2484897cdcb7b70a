"""Messaging's routes: conversations, groups, messages, receipts, attachments,
search, sync and the live socket."""
