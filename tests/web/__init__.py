"""Tests of archlag.web: the read API and the status page."""
