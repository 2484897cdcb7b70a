-- How far the Kafka relay has published the log, overall and per topic.
CREATE TABLE relay_progress (
    relay text PRIMARY KEY,
    position bigint NOT NULL
);

CREATE TABLE relay_topic_progress (
    topic text PRIMARY KEY,
    position bigint NOT NULL
);
