"""The payments context's read models: balances, statements, payments, the review queue."""
