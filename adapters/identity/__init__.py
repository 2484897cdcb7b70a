"""Identity's adapters: password hashing, common passwords, presence in Redis."""
