"""Tests of archlag.polling: the poller over a fake registry, and the registry tag source."""
