"""The payments context's adapters against local stand-ins of their services."""
