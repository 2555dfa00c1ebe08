"""Tests of archlag.config: loading, limits, receivers, secret sources, tag filters, the view."""
