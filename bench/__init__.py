"""Benchmarks: numbers, not timed tests. Results go to docs/benchmarks.md."""
