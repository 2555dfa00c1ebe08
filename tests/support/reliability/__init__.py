"""The reliability suite (tests/test_reliability.py): its attacks, harness and outcomes."""
