"""The vocabulary every layer uses: pure values and rules, no I/O.

- :mod:`~archlag.core.publication`: the publication model (a tag's releases, first-seen times,
  expectations, completions);
- :mod:`~archlag.core.platforms`, :mod:`~archlag.core.references`,
  :mod:`~archlag.core.names`: platforms, image references and the name grammar;
- :mod:`~archlag.core.platform_tags`: per-architecture suffix tags of a base tag;
- :mod:`~archlag.core.durations`: Prometheus duration syntax;
- :mod:`~archlag.core.sharding`: which shard a repository belongs to;
- :mod:`~archlag.core.status`, :mod:`~archlag.core.figures`, :mod:`~archlag.core.histograms`,
  :mod:`~archlag.core.snapshots`: what a watch is and counts, and the frozen snapshots that
  metrics, the read API and the status page read;
- :mod:`~archlag.core.lateness`: what each platform of a repository usually takes, and when a
  missing one is late;
- :mod:`~archlag.core.outcomes`: the bounded label values of the registry boundary.

Nothing here imports anything of archlag outside this package.
"""
