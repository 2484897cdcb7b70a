"""Notifications routes: the trigger API, the inbox, contact points, provider callbacks."""
