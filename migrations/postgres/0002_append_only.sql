-- The log is append-only in fact: the database itself refuses to change or remove events.
CREATE FUNCTION parley_reject_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER parley_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON parley_events
    FOR EACH ROW EXECUTE FUNCTION parley_reject_event_change();

CREATE TRIGGER parley_events_no_truncate
    BEFORE TRUNCATE ON parley_events
    FOR EACH STATEMENT EXECUTE FUNCTION parley_reject_event_change();
