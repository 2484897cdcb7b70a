-- Every transaction that appends events announces it, so the relay wakes at once instead of
-- polling. The channel is `<schema>.events_appended` (schemas are namespaces; channels are
-- database-wide). PostgreSQL delivers a NOTIFY only when its transaction commits, and folds
-- identical ones within a transaction into one: one wake-up per group commit.
CREATE FUNCTION parley_notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.events_appended', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER parley_events_notify_appended
    AFTER INSERT ON parley_events
    FOR EACH STATEMENT EXECUTE FUNCTION parley_notify_appended();
