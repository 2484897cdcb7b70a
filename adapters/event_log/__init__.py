"""Adapters of the event-log core: chained recorders, the log reader, the Kafka relay."""
