"""Adapters of the payments context: the card processor and its webhook signatures."""
