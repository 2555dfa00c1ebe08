"""Tests of archlag.metrics: what /metrics exposes, read back as Prometheus reads it."""
