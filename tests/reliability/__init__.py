"""Attacks on archlag: hostile registries, hostile inputs, memory under attack."""
