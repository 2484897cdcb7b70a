"""The payments context's HTTP routes."""
