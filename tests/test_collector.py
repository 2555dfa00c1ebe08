"""Metrics built from snapshots, read back the way Prometheus would read them."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from archlag.app import exposition
from archlag.collector import RequestMetrics
from archlag.model import Content, apply_content, settle
from archlag.platforms import parse_platform
from archlag.state import RepositoryState, Snapshot

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
EXPECTED = frozenset({AMD, ARM, V7})
REG, REPO = "docker.io", "gotify/server"


def _state(tag: str, platforms: dict, at: float):
    return apply_content(None, tag, Content("sha256:" + tag, platforms), at).state


class Scrape:
    """Exposition text parsed back, with a get_sample_value like prometheus-client's."""

    def __init__(self, text: str, openmetrics: bool = False) -> None:
        self.text = text
        parse = parse_openmetrics if openmetrics else text_string_to_metric_families
        self.families = list(parse(text))
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value for f in self.families for s in f.samples
        }

    def get_sample_value(self, name: str, labels: dict[str, str]) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))


def scrape(repo: RepositoryState, openmetrics: bool = False) -> Scrape:
    snapshot = Snapshot((repo.snapshot(60.0, 2700.0),))
    body = exposition(CollectorRegistry(), snapshot, "9.9.9", openmetrics).decode()
    return Scrape(body, openmetrics)


def build() -> tuple[Scrape, RepositoryState]:
    repo = RepositoryState(REG, REPO, (0.0, 60.0, 1800.0), last_poll_success=5000.0)
    incomplete = _state("2.6.1", {AMD: "sha256:a"}, 1000.0)
    weird = '1.0"\n} evil{x="'
    complete, completion = settle(_state(weird, {AMD: "a", ARM: "b", V7: "c"}, 900.0), EXPECTED)
    assert completion is not None
    repo.tags = {"2.6.1": incomplete, weird: complete}
    repo.selected = ("2.6.1", weird)
    repo.expected = dict.fromkeys(repo.tags, EXPECTED)
    repo.last_poll_ok = True
    repo.record([completion])
    repo.regressions[ARM] += 2
    return scrape(repo), repo


def test_tag_gauges_from_snapshot() -> None:
    registry, _ = build()
    tag = {"registry": REG, "repository": REPO, "tag": "2.6.1"}
    value = registry.get_sample_value
    assert value("archlag_tag_platform_available", {**tag, "platform": "linux/amd64"}) == 1
    assert value("archlag_tag_platform_available", {**tag, "platform": "linux/arm64"}) == 0
    assert value("archlag_tag_platform_available", {**tag, "platform": "linux/arm/v7"}) == 0
    seen = "archlag_tag_platform_first_seen_timestamp_seconds"
    assert value(seen, {**tag, "platform": "linux/amd64"}) == 1000.0
    assert value(seen, {**tag, "platform": "linux/arm64"}) is None, "never seen: no timestamp"
    assert value("archlag_tag_first_seen_timestamp_seconds", tag) == 1000.0
    assert value("archlag_tag_complete", tag) == 0
    repo = {"registry": REG, "repository": REPO}
    assert value("archlag_watch_stall_threshold_seconds", repo) == 2700.0
    assert value("archlag_repository_last_poll_success_timestamp_seconds", repo) == 5000.0
    assert value("archlag_registry_up", {"registry": REG}) == 1
    assert value("archlag_build_info", {"version": "9.9.9"}) == 1
    regress = {**repo, "platform": "linux/arm64"}
    assert value("archlag_platform_regressions_total", regress) == 2
    assert value("archlag_platform_regressions_total", {**repo, "platform": "linux/amd64"}) == 0


def test_histograms_have_all_buckets() -> None:
    registry, _ = build()
    repo = {"registry": REG, "repository": REPO}
    value = registry.get_sample_value
    spread = "archlag_tag_publication_spread_seconds"
    assert value(f"{spread}_count", repo) == 1
    assert value(f"{spread}_bucket", {**repo, "le": "0.0"}) == 1
    assert value(f"{spread}_bucket", {**repo, "le": "+Inf"}) == 1
    delay = "archlag_platform_publication_delay_seconds"
    assert value(f"{delay}_count", {**repo, "platform": "linux/arm/v7"}) == 1


def test_untrusted_tag_names_are_escaped_and_round_trip() -> None:
    _, repo = build()
    weird = '1.0"\n} evil{x="'
    for openmetrics in (False, True):
        result = scrape(repo, openmetrics)
        parsed = {
            s.labels.get("tag")
            for family in result.families
            for s in family.samples
            if family.name == "archlag_tag_complete"
        }
        assert parsed == {"2.6.1", weird}
    assert result.text.endswith("# EOF\n"), "the OpenMetrics parser also checked its syntax"
    # promtool lints the classic text format (names, units, help texts) as Prometheus reads it.
    text = scrape(repo).text
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_both_formats_carry_the_same_samples() -> None:
    _, repo = build()
    text, openmetrics = scrape(repo), scrape(repo, openmetrics=True)
    assert text.samples == openmetrics.samples
    assert len(text.samples) > 40


def test_request_metrics_bound_their_labels() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)
    metrics.request_finished("ghcr.io", "HEAD", "ok", 0.2)
    metrics.request_finished("ghcr.io", "GET", "something we never emit", 1.0)
    value = registry.get_sample_value
    labels = {"registry": "ghcr.io", "method": "HEAD", "result": "ok"}
    assert value("archlag_registry_requests_total", labels) == 1
    assert (
        value("archlag_registry_requests_total", {**labels, "method": "GET", "result": "error"})
        == 1
    )
    assert value("archlag_registry_request_duration_seconds_count", {"registry": "ghcr.io"}) == 2


def test_tags_leaving_the_selection_leave_the_metrics() -> None:
    _, repo = build()
    repo.selected = ("2.6.1",)
    result = scrape(repo)
    tags = {
        labels.get("tag") for (_, ls) in result.samples for labels in [dict(ls)] if "tag" in labels
    }
    assert tags == {"2.6.1"}
