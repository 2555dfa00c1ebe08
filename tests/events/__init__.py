"""Tests of archlag.events: push-event receivers, their payloads and proofs."""
