"""HTTP entrypoints: they translate requests into commands and queries, and nothing more."""
