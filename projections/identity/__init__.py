"""Identity's read models: the user directory, devices, contacts and blocks, presence."""
