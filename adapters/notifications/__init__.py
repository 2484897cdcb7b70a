"""Provider adapters of the notifications context, one module per protocol."""
