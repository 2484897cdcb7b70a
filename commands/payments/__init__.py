"""The payments context's commands: the ledger's chains, the payment saga's steps, funding,
payouts, requests, refunds, reviews and risk rules."""
