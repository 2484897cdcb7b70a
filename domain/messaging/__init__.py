"""Messaging: conversations and groups, messages, read markers, attachments, invitations."""
