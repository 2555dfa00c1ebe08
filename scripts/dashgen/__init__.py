"""Generator of archlag's Grafana dashboards (dashboards/*.json); run scripts/gen-dashboards.

:mod:`dashgen.grafana` holds the JSON builders; each other module defines one dashboard.
"""
