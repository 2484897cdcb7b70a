"""Payments: person-to-person money in conversations on a double-entry ledger."""
