"""Tests of archlag.exporter: the running process, reload, credentials, handoff, resharding."""
