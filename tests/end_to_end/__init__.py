"""The whole archlag against real servers (registry, Prometheus, Alertmanager, Renovate)."""
