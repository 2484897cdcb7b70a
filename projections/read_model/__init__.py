"""The read-model core: document changes, the read-store port, the projection
writer and runners, the consistency gate, hot-path caching, health and replay."""
