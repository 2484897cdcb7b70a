-- The event log, in the shape eventsourcing's PostgreSQL application recorder expects.
CREATE TYPE stored_event_uuid AS (
    originator_id uuid,
    originator_version bigint,
    topic text,
    state bytea
);

CREATE TABLE parley_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
);

CREATE UNIQUE INDEX parley_events_notification_id_idx ON parley_events (notification_id ASC);
