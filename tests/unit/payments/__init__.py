"""Unit tests of the payments context: pure domain, no I/O."""
