"""Metrics built from snapshots, read back the way Prometheus would read them."""

from __future__ import annotations

import subprocess

from archlag.core.figures import WatchFigures
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations, settle
from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.core.status import WatchStatus
from archlag.metrics import Exposition, NewSeriesHold, render_snapshot
from archlag.polling.repository_state import RepositoryState
from archlag.registry.request_tally import RequestTally
from tests.support.scrape import LiveScrape, Scrape

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
EXPECTED = frozenset({AMD, ARM, V7})
REG, REPO = "docker.io", "gotify/server"
REPO_LABELS = {"registry": REG, "repository": REPO}
PROMETHEUS = ("10.0.0.1", "Prometheus/2.42.0")


def _state(tag: str, platforms: dict, at: float, last_absent=None, expected=EXPECTED):
    found = Content("sha256:" + tag, platforms)
    state = apply_content(None, tag, found, at, absent_at=last_absent).state
    return begin_expectations({tag: state}, expected)[tag]


def scrape(repo: RepositoryState, openmetrics: bool = False) -> Scrape:
    snapshot = Snapshot((repo.snapshot(60.0, 2700.0),))
    polled = repo.figures.last_poll_success
    live = LiveSnapshot(
        state_file_ok=True,
        version="9.9.9",
        last_poll_success={(REG, REPO): polled} if polled is not None else {},
    )
    body = render_snapshot(snapshot, openmetrics=openmetrics, live=live)
    return Scrape(body, openmetrics)


def build() -> tuple[Scrape, RepositoryState]:
    figures = WatchFigures(
        last_poll_success=5000.0,
        last_poll_ok=True,
        status=WatchStatus("ok", "", 5000.0),
        regressions={ARM: 2},
    )
    repo = RepositoryState(REG, REPO, (0.0, 60.0, 1800.0), figures=figures)
    incomplete = _state("2.6.1", {AMD: "sha256:a"}, 1000.0, last_absent=940.0)
    weird = '1.0"\n} evil{x="'
    complete, completion = settle(_state(weird, {AMD: "a", ARM: "b", V7: "c"}, 900.0))
    assert completion is not None
    repo.tags = {"2.6.1": incomplete, weird: complete}
    repo.selected = ("2.6.1", weird)
    repo.record([completion])
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
    absent = "archlag_tag_platform_last_absent_timestamp_seconds"
    assert value(absent, {**tag, "platform": "linux/amd64"}) == 940.0
    weird = {**tag, "tag": '1.0"\n} evil{x="', "platform": "linux/amd64"}
    assert value(absent, weird) is None, "there at the first look: no bound"
    assert value("archlag_tag_complete", tag) == 0
    repo = {"registry": REG, "repository": REPO}
    assert value("archlag_watch_stall_threshold_seconds", repo) == 2700.0
    assert value("archlag_repository_last_poll_success_timestamp_seconds", repo) == 5000.0
    assert value("archlag_registry_up", {"registry": REG}) == 1
    assert value("archlag_build_info", {"version": "9.9.9"}) == 1
    regress = {**repo, "platform": "linux/arm64"}
    assert value("archlag_platform_regressions_total", regress) == 2
    assert value("archlag_platform_regressions_total", {**repo, "platform": "linux/amd64"}) == 0
    assert value("archlag_watch_status", {**repo, "status": "ok"}) == 1
    assert value("archlag_watch_status", {**repo, "status": "not_found"}) == 0
    reasons = {"schema1", "unknown_media_type", "nested_too_deep", "too_many_children"}
    for reason in reasons:
        assert (
            value("archlag_repository_unsupported_manifests_total", {**repo, "reason": reason}) == 0
        )
    assert value("archlag_state_file_ok", {}) == 1


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
    created = {k: v for k, v in openmetrics.samples.items() if k[0].endswith("_created")}
    assert text.samples == {k: v for k, v in openmetrics.samples.items() if k not in created}
    assert len(text.samples) > 40
    assert created == {}, "every series here was restored: when it was born is not known"


def test_request_metrics_bound_their_labels() -> None:
    metrics = RequestTally()
    metrics.known("ghcr.io")
    registry = LiveScrape(lambda: LiveSnapshot(requests=metrics.snapshot()))
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


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _exposition(repo: RepositoryState, clock: Clock) -> Exposition:
    hold = NewSeriesHold(window=600.0, clock=clock, wall_clock=clock)
    return Exposition(lambda: Snapshot((repo.snapshot(60.0, 2700.0),)), hold=hold)


def _delay_count(
    exposition: Exposition, scraper=PROMETHEUS, platform="linux/arm/v7"
) -> float | None:
    body = b"".join(exposition.body(openmetrics=False, scraper=scraper)).decode()
    labels = {**REPO_LABELS, "platform": platform}
    return Scrape(body).get_sample_value("archlag_platform_publication_delay_seconds_count", labels)


def _complete_with_a_new_platform(repo: RepositoryState) -> None:
    state, completion = settle(_state("3.0", {AMD: "a3", ARM: "b3", V7: "c3"}, 2000.0))
    assert completion is not None
    repo.tags["3.0"] = state
    repo.selected = ("3.0", *repo.selected)
    repo.record([completion])
    repo.reconfigured()  # what commit() does: the snapshot changed


def test_a_new_series_is_shown_at_zero_until_every_prometheus_has_seen_it() -> None:
    repo, clock = RepositoryState(REG, REPO, (0.0, 60.0)), Clock()
    repo.tags = {"2.0": _state("2.0", {AMD: "a"}, 1000.0, expected=frozenset({AMD}))}
    repo.selected = ("2.0",)
    exposition = _exposition(repo, clock)
    exposition.prime()
    other = ("10.0.0.2", "Prometheus/2.42.0")  # an HA pair: both must see the zero
    assert _delay_count(exposition, PROMETHEUS) is None, "arm/v7 is nowhere in view yet"
    assert _delay_count(exposition, other) is None
    _complete_with_a_new_platform(repo)
    exposition._latest = exposition._render(exposition._snapshot())  # what run() does
    clock.now += 15
    assert _delay_count(exposition, None) == 0, "a person's curl neither sees nor releases it"
    assert _delay_count(exposition, PROMETHEUS) == 0
    exposition._latest = exposition._render(exposition._snapshot())
    assert _delay_count(exposition, PROMETHEUS) == 0, "the other Prometheus has not seen it yet"
    assert _delay_count(exposition, other) == 0
    exposition._latest = exposition._render(exposition._snapshot())
    assert _delay_count(exposition, PROMETHEUS) == 1, "both saw the zero: now it counts"
    amd = _delay_count(exposition, PROMETHEUS, platform="linux/amd64")
    assert amd == 1, "a series shown at zero since the start counts at once once released"


def test_nothing_is_held_while_no_prometheus_scrapes() -> None:
    repo, clock = RepositoryState(REG, REPO, (0.0, 60.0)), Clock()
    exposition = _exposition(repo, clock)
    exposition.prime()
    _complete_with_a_new_platform(repo)
    exposition._latest = exposition._render(exposition._snapshot())
    assert _delay_count(exposition, None) == 1


def test_a_prometheus_that_stopped_scraping_holds_nothing_after_the_window() -> None:
    repo, clock = RepositoryState(REG, REPO, (0.0, 60.0)), Clock()
    exposition = _exposition(repo, clock)
    exposition.prime()
    assert _delay_count(exposition, PROMETHEUS) is None
    _complete_with_a_new_platform(repo)
    exposition._latest = exposition._render(exposition._snapshot())
    om = b"".join(exposition.body(openmetrics=True)).decode()
    created = {**REPO_LABELS, "platform": "linux/arm/v7"}
    assert (
        Scrape(om, openmetrics=True).get_sample_value(
            "archlag_platform_publication_delay_seconds_created", created
        )
        == clock.now
    ), "a series born in this process says when, in OpenMetrics"
    assert _delay_count(exposition, None) == 0
    clock.now += 601
    assert _delay_count(exposition, None) == 0, "this scrape releases it; the next shows it"
    exposition._latest = exposition._render(exposition._snapshot())
    assert _delay_count(exposition, None) == 1


def test_renderings_are_reused_until_the_state_changes() -> None:
    _, repo = build()
    exposition = Exposition(lambda: Snapshot((repo.snapshot(60.0, 2700.0),)))
    exposition.prime()
    first = exposition.body(openmetrics=False)[0]
    assert exposition.body(openmetrics=False)[0] is first, "every scrape shares one rendering"
    exposition._latest = exposition._render(exposition._snapshot())
    cached = exposition._cache[f"{REG}/{REPO}"]
    exposition._latest = exposition._render(exposition._snapshot())
    assert exposition._cache[f"{REG}/{REPO}"] is cached, "an unchanged repository is not rendered"
    repo.reconfigured()
    exposition._latest = exposition._render(exposition._snapshot())
    assert exposition._cache[f"{REG}/{REPO}"] is not cached
