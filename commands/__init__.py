"""The write side: commands, their handlers, and the group-commit writer that saves them."""
