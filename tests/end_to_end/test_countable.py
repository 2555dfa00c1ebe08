"""Every observation is countable: the README's mean-delay query, in the real Prometheus.

A histogram label set that is born already observed is invisible to ``increase()``: the first
sample Prometheus ever gets is 1, so the increase is 0 and the mean delay NaN. Two stories, with
the real registry, the real ``archlag`` process and the real Prometheus scraping every second:

1. arm/v7 appears in the repository for the first time in the same poll that completes 2.0, so
   its delay series is born with its first observation;
2. a watch added since the last start completes its first publication.

In both, Prometheus must have seen the series at 0 first, and the mean-delay query of the README
must return the delay archlag recorded.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.paths import ROOT
from tests.support.prometheus import PrometheusServer, wait_for
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

README = (ROOT / "README.md").read_text(encoding="utf-8")
JOB = "archlag"


def mean_delay_query() -> str:
    """The README's "which platform is usually last" query, as written there."""
    block = README.split("```promql", 1)[1].split("```", 1)[0]
    example = next(e for e in re.split(r"\n\s*\n", block) if "mean delay per platform" in e)
    return re.sub(r"(?m)^#.*\n", "", example).strip()


def config(tmp_path: Path, registry: RegistryServer, watches: list[dict[str, Any]]) -> dict:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "500ms", "settled_interval": "1s"},
        "registries": {registry.host: {"insecure": True}},
        "watches": watches,
    }


@contextmanager
def prometheus_for(tmp_path: Path, address: str) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path / "prometheus", targets={JOB: [address]})
    server.start()
    with server:
        yield server


def scraped(prometheus: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    return wait_for(lambda: prometheus.query(expr), timeout=30.0, what=expr)


def delay_recorded(scrape: Scrape, registry: str, repository: str, platform: str) -> float:
    labels = {"registry": registry, "repository": repository, "platform": platform}
    total = scrape.value("archlag_platform_publication_delay_seconds_sum", **labels)
    count = scrape.value("archlag_platform_publication_delay_seconds_count", **labels)
    assert count == 1, f"one observation of {platform} expected, got {count}"
    assert total is not None
    return total


def mean_delays(prometheus: PrometheusServer, repository: str) -> dict[str, float]:
    """The README query's numbers for one repository (NaN, no observation counted, left out)."""
    found = {}
    for sample in prometheus.query(mean_delay_query()):
        value = float(sample["value"][1])
        if sample["metric"].get("repository") == repository and not math.isnan(value):
            found[sample["metric"]["platform"]] = value
    return found


def delay_count(registry: str, repository: str, platform: str) -> Callable[[Scrape], bool]:
    def observed(scrape: Scrape) -> bool:
        labels = {"registry": registry, "repository": repository, "platform": platform}
        return scrape.value("archlag_platform_publication_delay_seconds_count", **labels) == 1

    return observed


def first_count(prometheus: PrometheusServer, repository: str, platform: str) -> float:
    """The smallest value Prometheus ever stored for the delay count: 0 if it saw the zero."""
    selector = (
        f'archlag_platform_publication_delay_seconds_count{{repository="{repository}",'
        f'platform="{platform}"}}'
    )
    result = prometheus.query(f"min_over_time({selector}[10m])")
    assert result, f"Prometheus has no {selector}"
    return float(result[0]["value"][1])


def test_a_platform_new_to_the_repository_is_counted(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    repository = "demo/app"
    old = [pusher.push_image(repository, p, seed="1.0") for p in ("linux/amd64", "linux/arm64")]
    pusher.push_index(repository, "1.0", old)
    watches = [{"image": f"{registry.host}/{repository}"}]  # platforms learned from older tags
    with ArchlagProcess(tmp_path, config(tmp_path, registry, watches)) as archlag:
        address = archlag.url.removeprefix("http://")
        with prometheus_for(tmp_path, address) as prometheus:
            scraped(prometheus, 'archlag_tag_complete{tag="1.0"} == 1')
            amd, arm, v7 = (
                pusher.push_image(repository, p, seed="2.0")
                for p in ("linux/amd64", "linux/arm64", "linux/arm/v7")
            )
            pusher.push_index(repository, "2.0", [amd])
            archlag.wait_for(lambda s: s.value("archlag_tag_complete", tag="2.0",
                             registry=registry.host, repository=repository) == 0)  # fmt: skip
            time.sleep(2.0)
            # arm64 completes 2.0 in the same poll that brings arm/v7, new to the repository.
            pusher.push_index(repository, "2.0", [amd, arm, v7])
            scrape = archlag.wait_for(
                delay_count(registry.host, repository, "linux/arm/v7"),
                what="arm/v7's first delay observation on /metrics",
            )
            recorded = delay_recorded(scrape, registry.host, repository, "linux/arm/v7")
            assert recorded >= 1.5, "arm/v7 arrived two seconds after amd64"
            means = wait_for(
                lambda: mean_delays(prometheus, repository).get("linux/arm/v7"),
                timeout=30.0,
                what="the README's mean delay for linux/arm/v7",
            )
            assert means == pytest.approx(recorded, rel=1e-6)
            assert first_count(prometheus, repository, "linux/arm/v7") == 0, "seen at 0 first"


def test_the_first_completion_of_a_watch_added_since_the_last_start_is_counted(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    for repository in ("demo/app", "demo/tool"):
        images = [
            pusher.push_image(repository, p, seed="0") for p in ("linux/amd64", "linux/arm64")
        ]
        pusher.push_index(repository, "0.1", images)
    both = ["linux/amd64", "linux/arm64"]
    app = {"image": f"{registry.host}/demo/app", "platforms": both}
    tool = {"image": f"{registry.host}/demo/tool", "platforms": both}
    first = ArchlagProcess(tmp_path, config(tmp_path, registry, [app]))
    with first:
        first.wait_for(lambda s: s.value("archlag_tag_complete", tag="0.1",
                       registry=registry.host, repository="demo/app") == 1)  # fmt: skip
    second = ArchlagProcess(tmp_path, config(tmp_path, registry, [app, tool]))
    second.port, second.url = first.port, first.url  # the same target for Prometheus
    with second, prometheus_for(tmp_path, second.url.removeprefix("http://")) as prometheus:
        scraped(prometheus, 'archlag_tag_complete{repository="demo/tool",tag="0.1"} == 1')
        amd, arm = (pusher.push_image("demo/tool", p, seed="0.2") for p in both)
        pusher.push_index("demo/tool", "0.2", [amd])
        time.sleep(2.0)
        pusher.push_index("demo/tool", "0.2", [amd, arm])
        scrape = second.wait_for(
            delay_count(registry.host, "demo/tool", "linux/arm64"),
            what="demo/tool's first completion on /metrics",
        )
        recorded = delay_recorded(scrape, registry.host, "demo/tool", "linux/arm64")
        means = wait_for(
            lambda: mean_delays(prometheus, "demo/tool").get("linux/arm64"),
            timeout=30.0,
            what="the README's mean delay for demo/tool's linux/arm64",
        )
        assert means == pytest.approx(recorded, rel=1e-6)
        assert first_count(prometheus, "demo/tool", "linux/arm64") == 0
