"""The dashboards against a sharded deployment with an HA pair, on loopback.

Three real ``archlag`` processes are one Prometheus job: ``a`` and ``b`` are two identical
replicas (each with its own state) watching ``demo/app``, ``s`` is another shard watching
``demo/other``. For every panel query about repositories, choosing one replica of each shard
in the Instance variable must show what choosing All shows (the second replica counts
nothing twice), and the two shards' counts must add up to All's (each repository is on one
shard). Checked with both tags incomplete, and again once both are complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.archlag_process import ArchlagProcess
from tests.support.dashboards import (
    RULES_PATH,
    Query,
    load_dashboards,
    metric_selectors,
    panel_queries,
    repository_metrics,
    substitute,
)
from tests.support.prometheus import PrometheusServer, started, wait_for
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

JOB = "archlag"
TAG = "1.0"
APP, OTHER = "demo/app", "demo/other"
# increase() extrapolates a little past the samples; a second replica counted would double.
TOLERANCE = 0.25


def config(workdir: Path, registry: RegistryServer, repository: str) -> dict[str, Any]:
    return {
        "state_file": str(workdir / "archlag.db"),
        "defaults": {"interval": "1s", "settled_interval": "1s", "stall_after": "5s"},
        "registries": {registry.host: {"insecure": True}},
        "watches": [
            {"image": f"{registry.host}/{repository}", "platforms": ["linux/amd64", "linux/arm64"]}
        ],
    }


def repository_queries() -> list[Query]:
    """Panel queries that read only metrics about repositories (not about processes)."""
    identity = repository_metrics()
    return [
        query
        for name, dashboard in load_dashboards().items()
        for query in panel_queries(name, dashboard)
        if {s.name for s in metric_selectors(query.expr)} <= identity
    ]


def is_count(query: Query) -> bool:
    return query.expr.startswith(("count(", "sum(", "round(sum("))


def evaluate(
    prometheus: PrometheusServer, query: Query, registry: str, instances: str
) -> dict[frozenset[tuple[str, str]], float]:
    values = {
        "__rate_interval": "1m",
        "__range": "1h",
        "__interval": "15s",
        "job": JOB,
        "instance": instances,
        "registry": registry,
        "repository": f"{APP}|{OTHER}",
        "tag": TAG,
    }
    return {
        frozenset(sample["metric"].items()): float(sample["value"][1])
        for sample in prometheus.query(substitute(query.expr, values))
    }


def close(value: float, expected: float) -> bool:
    return abs(value - expected) <= TOLERANCE * max(1.0, abs(expected))


def check(
    prometheus: PrometheusServer, registry: str, addresses: dict[str, str], when: str
) -> None:
    a, s = addresses["a"], addresses["s"]
    problems = []
    for query in repository_queries():
        every = evaluate(prometheus, query, registry, ".*")
        one_each = evaluate(prometheus, query, registry, f"{a}|{s}")
        if len(every) != len(one_each):
            problems.append(
                f"{query.where}: {len(every)} series with All, {len(one_each)} without b"
            )
        if not is_count(query) or len(every) != 1:
            continue
        (total,) = every.values()
        (without_b,) = one_each.values()
        shards = sum(sum(evaluate(prometheus, query, registry, i).values()) for i in (a, s))
        if not close(total, without_b):
            problems.append(f"{query.where}: {total} with All, {without_b} without replica b")
        if not close(total, shards):
            problems.append(f"{query.where}: {total} with All, {shards} from the two shards")
    assert not problems, f"{when}:\n" + "\n".join(problems)


def reporting(prometheus: PrometheusServer, expr: str) -> set[str]:
    """The instances for which ``expr`` has a series."""
    return {sample["metric"]["instance"] for sample in prometheus.query(expr)}


@pytest.fixture
def processes(registry: RegistryServer, tmp_path: Path) -> Iterator[dict[str, ArchlagProcess]]:
    repositories = {"a": APP, "b": APP, "s": OTHER}
    with ExitStack() as stack:
        running = {}
        for name, repository in repositories.items():
            workdir = tmp_path / name
            workdir.mkdir()
            process = ArchlagProcess(workdir, config(workdir, registry, repository))
            running[name] = stack.enter_context(process)
        yield running


def test_shards_add_up_and_replicas_count_once(
    registry: RegistryServer,
    pusher: Pusher,
    processes: dict[str, ArchlagProcess],
    tmp_path: Path,
) -> None:
    arm64 = {}
    amd64 = {}
    for repository in (APP, OTHER):
        amd64[repository] = pusher.push_image(repository, "linux/amd64")
        arm64[repository] = pusher.push_image(repository, "linux/arm64")
        pusher.push_index(repository, TAG, [amd64[repository]])
    addresses = {name: f"127.0.0.1:{p.port}" for name, p in processes.items()}
    prometheus = PrometheusServer(
        tmp_path / "prometheus", targets={JOB: list(addresses.values())}, rule_files=[RULES_PATH]
    )
    everyone = set(addresses.values())
    with started(prometheus):
        wait_for(
            lambda: reporting(prometheus, "archlag:tag_platform_missing_seconds") == everyone,
            timeout=30.0,
            what="every process's linux/arm64 missing in Prometheus",
        )
        check(prometheus, registry.host, addresses, "while linux/arm64 is missing")

        for repository in (APP, OTHER):
            pusher.push_index(repository, TAG, [amd64[repository], arm64[repository]])
        wait_for(
            lambda: (
                reporting(prometheus, "archlag_tag_complete == 1") == everyone
                and not prometheus.query("archlag:tag_platform_missing_seconds")
            ),
            timeout=30.0,
            what="every process's tag complete in Prometheus",
        )
        check(prometheus, registry.host, addresses, "once both tags are complete")
