"""Identity: people, their credentials and devices, contacts and blocks, operator roles."""
