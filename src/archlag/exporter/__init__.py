"""The running exporter: wiring, the watches' supervision and resharding.

- :mod:`~archlag.exporter.runner`: one task group runs the supervisor, the exposition, the HTTP
  servers and the signal handler; reloads;
- :mod:`~archlag.exporter.supervisor`: registry clients, one poller per watch, reload's changes;
- :mod:`~archlag.exporter.handoff`: adopting a moved repository's history from a peer shard.
"""
