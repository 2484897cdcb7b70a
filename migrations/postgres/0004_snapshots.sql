-- Snapshots of long-lived aggregates (conversations), so loading one never replays its whole
-- history. Unlike events, snapshots are a cache: they may be rewritten or dropped.
CREATE TABLE parley_snapshots (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    PRIMARY KEY (originator_id, originator_version)
);
