"""Benchmark: render /metrics for many tags (default 10,000 tags x 4 platforms).

Prints numbers; asserts nothing. Usage: python benchmarks/metrics_render.py [TAGS] [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time

from archlag.collector import render, snapshot_families
from archlag.model import Content, apply_content
from archlag.platforms import parse_platform
from archlag.state import RepositoryState, Snapshot

PLATFORMS = [parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386")]


def build(tags: int) -> Snapshot:
    repos = []
    per_repo = 100
    for r in range(max(tags // per_repo, 1)):
        repo = RepositoryState("docker.io", f"org/image{r}", (0.0, 60.0, 3600.0))
        for t in range(per_repo):
            name = f"1.{t}.0"
            found = Content(f"sha256:{r}-{t}", {p: f"sha256:{r}-{t}-{p}" for p in PLATFORMS[:3]})
            repo.tags[name] = apply_content(None, name, found, 1_700_000_000.0 + t).state
        repo.selected = tuple(repo.tags)
        repo.expected = dict.fromkeys(repo.tags, frozenset(PLATFORMS))
        repos.append(repo)
    return Snapshot(tuple(r.snapshot(60, 1800) for r in repos))


def main() -> None:
    tags = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    snapshot = build(tags)
    timings, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        size = len(render(snapshot_families(snapshot, "bench"), openmetrics=True).encode())
        timings.append(time.perf_counter() - started)
    print(f"tags={tags} platforms_per_tag={len(PLATFORMS)} bytes={size}")
    print(
        f"render_seconds min={min(timings):.3f} median={statistics.median(timings):.3f} "
        f"max={max(timings):.3f} rounds={rounds}"
    )


if __name__ == "__main__":
    main()
