"""Messaging's read models: conversations, memberships, messages, feed, inbox,
invitations, attachments, and what live sockets hear."""
