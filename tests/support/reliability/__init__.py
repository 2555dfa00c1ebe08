"""The reliability suite of tests/reliability/test_hostile_registries.py: its attacks, harness and
outcomes."""
