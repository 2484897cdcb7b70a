"""Messaging's write side: conversations, groups, messages, read markers, attachments."""
