-- Tamper evidence: one hash-chain link per event, written by the recorder
-- (adapters/chained_postgres.py) in the transaction that stores the event, and signed
-- checkpoints of the chain's head. Both are append-only, like the events.
-- No foreign key to the events: a link left without its event is the evidence of a deletion.
CREATE TABLE parley_event_hashes (
    notification_id bigint PRIMARY KEY,
    previous_id bigint NOT NULL,
    event_digest bytea NOT NULL,
    hash bytea NOT NULL
);

CREATE TABLE parley_chain_checkpoints (
    position bigint PRIMARY KEY,
    head_hash bytea NOT NULL,
    signed_at timestamptz NOT NULL,
    signature bytea NOT NULL
);

CREATE TRIGGER parley_event_hashes_no_update_or_delete
    BEFORE UPDATE OR DELETE ON parley_event_hashes
    FOR EACH ROW EXECUTE FUNCTION parley_reject_event_change();

CREATE TRIGGER parley_event_hashes_no_truncate
    BEFORE TRUNCATE ON parley_event_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION parley_reject_event_change();

CREATE TRIGGER parley_chain_checkpoints_no_update_or_delete
    BEFORE UPDATE OR DELETE ON parley_chain_checkpoints
    FOR EACH ROW EXECUTE FUNCTION parley_reject_event_change();

CREATE TRIGGER parley_chain_checkpoints_no_truncate
    BEFORE TRUNCATE ON parley_chain_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION parley_reject_event_change();

-- Links the events stored before this migration, with exactly the encoding of
-- domain/hash_chain.py (labels, 8-byte big-endian integers, length-prefixed fields).
-- Refuses to run once the chain has links: relinking would hide tampering.
CREATE FUNCTION parley_chain_link_stored_events() RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    previous_hash bytea := sha256('parley-genesis-v1'::bytea);
    previous_id bigint := 0;
    digest bytea;
    linked bigint := 0;
    stored record;
BEGIN
    IF EXISTS (SELECT 1 FROM parley_event_hashes) THEN
        RAISE EXCEPTION 'the hash chain already has links; relinking would hide tampering';
    END IF;
    LOCK TABLE parley_events IN EXCLUSIVE MODE;
    FOR stored IN
        SELECT notification_id, convert_to(originator_id::text, 'UTF8') AS id_bytes,
               originator_version, convert_to(topic, 'UTF8') AS topic_bytes, state
        FROM parley_events ORDER BY notification_id
    LOOP
        digest := sha256('parley-event-v1'::bytea
            || int8send(octet_length(stored.id_bytes)::bigint) || stored.id_bytes
            || int8send(stored.originator_version)
            || int8send(octet_length(stored.topic_bytes)::bigint) || stored.topic_bytes
            || int8send(octet_length(stored.state)::bigint) || stored.state);
        previous_hash := sha256('parley-link-v1'::bytea || previous_hash
            || int8send(previous_id) || int8send(stored.notification_id) || digest);
        INSERT INTO parley_event_hashes VALUES
            (stored.notification_id, previous_id, digest, previous_hash);
        previous_id := stored.notification_id;
        linked := linked + 1;
    END LOOP;
    RETURN linked;
END;
$$;

SELECT parley_chain_link_stored_events();
