"""Local servers standing in for the notification providers, on 127.0.0.1 (tests, bench)."""
