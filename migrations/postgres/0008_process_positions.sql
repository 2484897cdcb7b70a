-- How far each process manager has handled the log (the commands it issued before it are
-- issued; those after may be issued again, under the same idempotency keys).
CREATE TABLE process_positions (
    manager text PRIMARY KEY,
    position bigint NOT NULL
);
