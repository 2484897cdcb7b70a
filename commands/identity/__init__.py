"""Identity's write side: registration, sign-in and devices, contacts and blocks, roles."""
