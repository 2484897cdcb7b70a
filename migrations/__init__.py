"""Versioned schema changes for PostgreSQL and Elasticsearch, and the runner that applies them."""
