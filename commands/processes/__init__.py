"""Work that runs on its own: periodic schedules, and outages logged once."""
