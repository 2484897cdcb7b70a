"""Adapters: the real services behind Parley's ports (SQLite, Elasticsearch, Kafka, Redis)."""
