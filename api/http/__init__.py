"""HTTP machinery every context's routes share: problems, limits, pagination,
request ids, security headers, the OpenAPI rules and docs page."""
