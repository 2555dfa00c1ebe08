"""Checks of the test helpers in tests/support against the real servers they drive."""
