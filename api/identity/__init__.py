"""Identity's routes: accounts and sessions, users, contacts and blocks."""
