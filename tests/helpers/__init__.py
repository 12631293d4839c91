"""Helpers shared by the tests: running the real commands, making files as users make them."""
