"""What ships beside the code: alert rules, dashboards, deploy files, docs, house rules."""
