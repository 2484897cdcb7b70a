-- Events a projector could not project (parked, to retry after a fix) and each projection's
-- last error, for `parley projections status`.
CREATE TABLE parked_events (
    projection text NOT NULL,
    position bigint NOT NULL,
    event_type text NOT NULL,
    error text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    PRIMARY KEY (projection, position)
);

CREATE TABLE projection_errors (
    projection text PRIMARY KEY,
    error text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
