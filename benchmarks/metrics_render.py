"""Benchmark: render /metrics for many tags (default 10,000 tags x 4 platforms).

Prints numbers; asserts nothing. Usage: python benchmarks/metrics_render.py [TAGS] [ROUNDS]

``render_seconds`` is a whole rendering of every repository; ``rerender_one_repository_seconds``
is what archlag does after a poll changed one repository (the others' samples are reused), and
``serve_seconds`` what one scrape costs once a rendering exists, including what is rendered at
every scrape: here every tag lacks a platform, so each scrape says for each of them whether it
is late (``late_series``), the worst case of that family.
"""

from __future__ import annotations

import statistics
import sys
import time

from archlag.core.lateness import LatenessRule
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations
from archlag.core.snapshots import LiveSnapshot, Snapshot
from archlag.metrics import Exposition
from archlag.polling.repository_state import RepositoryState

PLATFORMS = [parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386")]


def build(tags: int) -> list[RepositoryState]:
    repos = []
    per_repo = 100
    for r in range(max(tags // per_repo, 1)):
        repo = RepositoryState("docker.io", f"org/image{r}", (0.0, 60.0, 3600.0))
        for t in range(per_repo):
            name = f"1.{t}.0"
            found = Content(f"sha256:{r}-{t}", {p: f"sha256:{r}-{t}-{p}" for p in PLATFORMS[:3]})
            repo.tags[name] = apply_content(None, name, found, 1_700_000_000.0 + t).state
        begin_expectations(repo.tags, frozenset(PLATFORMS))
        repo.selected = tuple(repo.tags)
        repos.append(repo)
    return repos


def timed(rounds: int, action) -> list[float]:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def summary(name: str, timings: list[float]) -> str:
    return (
        f"{name} min={min(timings):.4f} median={statistics.median(timings):.4f} "
        f"max={max(timings):.4f} rounds={len(timings)}"
    )


def main() -> None:
    tags = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    repos = build(tags)

    def snapshot() -> Snapshot:
        return Snapshot(tuple(r.snapshot(60, 1800) for r in repos))

    def live() -> LiveSnapshot:
        rule = LatenessRule()  # what the supervisor asks every watch at each scrape
        return LiveSnapshot(
            deadlines={(r.registry, r.repository): r.deadlines(rule) for r in repos}
        )

    def full() -> None:
        Exposition(snapshot).prime()

    exposition = Exposition(snapshot, live=live)
    exposition.prime()

    def one_repository() -> None:
        repos[0].generation += 1
        exposition._latest = exposition._render(snapshot())  # what the renderer task does

    size = len(b"".join(exposition.body(openmetrics=True)))
    late = sum(len(pending) for pending in live().deadlines.values())
    print(f"tags={tags} platforms_per_tag={len(PLATFORMS)} bytes={size} late_series={late}")
    print(summary("render_seconds", timed(rounds, full)))
    print(summary("rerender_one_repository_seconds", timed(rounds, one_repository)))
    print(summary("serve_seconds", timed(rounds, lambda: exposition.body(openmetrics=True))))


if __name__ == "__main__":
    main()
