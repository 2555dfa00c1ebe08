"""Tests of archlag.logs and archlag.secrets: log lines, and secrets masked in every form."""
