"""Adapters of the read-model core: read stores, generations, health, progress,
locks, caches, and the Kafka projection runner."""
