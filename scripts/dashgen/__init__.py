"""Generator of archlag's Grafana dashboards (dashboards/*.json); run scripts/gen-dashboards.

Built with grafana-foundation-sdk: :mod:`dashgen.grafana` and :mod:`dashgen.panels` hold
archlag's conventions over its builders, :mod:`dashgen.dashboard` the variables and links,
:mod:`dashgen.promql` the query rule for shards and HA replicas; each other module defines one
dashboard.
"""
