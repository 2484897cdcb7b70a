"""The event-log core every context writes through: the aggregate base and the cause
every event records, the log, group commit, idempotency, and the hash chain."""
