"""Tests of archlag.core: the publication model, names, platforms, durations, sharding."""
