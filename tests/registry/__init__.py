"""Tests of archlag.registry: the client, authentication, content, the Hub and Quay APIs."""
