"""The read side: projectors from events to documents, and the queries that read them."""
