"""PromQL for dashboards that serve one archlag, N shards or two HA replicas alike.

Every archlag process is one Prometheus ``instance``. Metrics about watched images carry a
``repository`` label; each repository is on exactly one shard, and HA replicas both report it.
So every such query first reduces across instances per identity with ``max by (job, registry,
repository, ...)`` and only then counts, sums or selects. For shards that ``max`` is the union
(one series per identity exists); for HA it keeps one of the two replicas' series, so nothing
is counted twice. Arithmetic that needs both ends from the same process (a delay: a platform's
first-seen minus its tag's) runs per instance inside that ``max``.

Metrics without a ``repository`` label are about the process itself (scrapes, registry
requests, the state file, the shard) and are shown per instance or summed as real work done.
"""

from __future__ import annotations

from collections.abc import Sequence

REPO_KEYS = ("job", "registry", "repository")
TAG_KEYS = (*REPO_KEYS, "tag")
PLATFORM_KEYS = (*TAG_KEYS, "platform")


def labels(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def per_instance(keys: Sequence[str]) -> tuple[str, ...]:
    """``keys`` plus ``instance``: the labels that identify one process's series."""
    return (keys[0], "instance", *keys[1:])


def dedup(expr: str, keys: Sequence[str]) -> str:
    """One series per identity ``keys`` across every archlag instance (shards or replicas)."""
    return f"max by ({labels(keys)}) ({expr})"


def on(keys: Sequence[str]) -> str:
    return f"on ({labels(keys)})"


class Selectors:
    """Label matchers for the dashboard variables, written once per dashboard."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def __call__(self, metric: str, *extra: str) -> str:
        matchers = [f'{name}=~"${name}"' for name in self.names] + list(extra)
        return f"{metric}{{{', '.join(matchers)}}}"
