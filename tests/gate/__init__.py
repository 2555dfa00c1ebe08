"""Tests of archlag.gate: ``archlag check`` and ``archlag wait``."""
