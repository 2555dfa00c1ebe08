"""The expectation and lateness families, read back the way Prometheus reads them: what is fixed
between two changes of the state is rendered once, whether a platform is late at every scrape."""

from __future__ import annotations

from archlag.core.lateness import LatenessSettings
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations, settle
from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.metrics import Exposition, render_snapshot
from archlag.polling.repository_state import RepositoryState
from tests.support.scrape import Scrape

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
EXPECTED = frozenset({AMD, ARM, V7})
REG, REPO = "docker.io", "gotify/server"
STALL_AFTER = 1800.0
LATENESS = LatenessSettings(min=300.0, max=86400.0, margin=1.5, min_observations=5)


def tag_state(tag: str, platforms: dict, at: float):
    state = apply_content(None, tag, Content("sha256:" + tag, platforms), at).state
    return begin_expectations({tag: state}, EXPECTED)[tag]


def watched() -> RepositoryState:
    """2.6.1 lacks arm64 (12 releases of history: p50 18m, p95 40m) and arm/v7 (none)."""
    repo = RepositoryState(REG, REPO, (0.0, 60.0, 1800.0))
    for minutes in [18, 12, 20, 25, 14, 18, 40, 16, 19, 17, 22, 15]:
        repo.observe(AMD, 0.0, estimated=False)
        repo.observe(ARM, minutes * 60.0, estimated=False)
        repo.observe(V7, 5.0, estimated=True)  # backfill estimates never count
    complete, completion = settle(tag_state("2.6.0", {AMD: "a", ARM: "b", V7: "c"}, 500.0))
    assert completion is not None
    repo.tags = {"2.6.1": tag_state("2.6.1", {AMD: "sha256:a"}, 10_000.0), "2.6.0": complete}
    repo.selected = ("2.6.1", "2.6.0")
    return repo


def snapshot_of(repo: RepositoryState) -> Snapshot:
    return Snapshot((repo.snapshot(60.0, STALL_AFTER, lateness=LATENESS),))


def live_of(repo: RepositoryState, now: float) -> LiveSnapshot:
    rule = snapshot_of(repo).repositories[0].rule
    return LiveSnapshot(deadlines={(REG, REPO): repo.deadlines(rule)}, taken_at=now)


def labels(**more: str) -> dict[str, str]:
    return {"registry": REG, "repository": REPO, **more}


def test_expected_delay_per_platform_with_the_observations_it_rests_on() -> None:
    scrape = Scrape(render_snapshot(snapshot_of(watched()), openmetrics=True), openmetrics=True)

    def expected(platform: str, percentile: str) -> float | None:
        return scrape.get_sample_value(
            "archlag_platform_expected_delay_seconds",
            labels(platform=platform, percentile=percentile),
        )

    assert expected("linux/arm64", "50") == 18 * 60
    assert expected("linux/arm64", "95") == 40 * 60
    assert expected("linux/amd64", "95") == 0
    assert expected("linux/arm/v7", "50") is None, "no measured delay: no expectation"
    observations = "archlag_platform_expected_delay_observations"
    assert scrape.get_sample_value(observations, labels(platform="linux/arm64")) == 12
    assert scrape.get_sample_value(observations, labels(platform="linux/arm/v7")) == 0


def test_late_after_is_fixed_and_late_flips_at_scrape_time_without_rendering_again() -> None:
    repo = watched()
    renders = []

    def snapshot() -> Snapshot:
        renders.append(1)
        return snapshot_of(repo)

    now = [10_000.0 + 60]
    exposition = Exposition(snapshot, live=lambda: live_of(repo, now[0]))
    exposition.prime()

    def scrape() -> Scrape:
        return Scrape(b"".join(exposition.body(openmetrics=False)).decode())

    def late(platform: str) -> tuple[float | None, float | None]:
        found = scrape()
        tag = labels(tag="2.6.1", platform=platform)
        return (
            found.get_sample_value("archlag_tag_platform_late_after_timestamp_seconds", tag),
            found.get_sample_value("archlag_tag_platform_late", tag),
        )

    arm_deadline = 10_000.0 + 40 * 60 * 1.5  # p95 40m x 1.5 after the first platform
    v7_deadline = 10_000.0 + STALL_AFTER  # no history of arm/v7: stall_after
    assert late("linux/arm64") == (arm_deadline, 0)
    assert late("linux/arm/v7") == (v7_deadline, 0)
    now[0] = v7_deadline + 1
    assert late("linux/arm/v7") == (v7_deadline, 1)
    assert late("linux/arm64") == (arm_deadline, 0)
    now[0] = arm_deadline + 1
    assert late("linux/arm64") == (arm_deadline, 1)
    assert len(renders) == 1, "the clock alone renders nothing again"
    assert late("linux/amd64") == (None, None), "present platforms are never late"
