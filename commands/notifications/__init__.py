"""Notifications: reaching users on push, SMS, email, webhooks and in-app (the delivery engine)."""
