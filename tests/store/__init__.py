"""Tests of archlag.store: the SQLite state file, its lock, migrations and transfers."""
