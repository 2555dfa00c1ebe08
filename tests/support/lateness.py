"""A watched repository with a history of measured releases and two incomplete tags, for the
tests of what the API, the status page and ``archlag check`` say about missing platforms."""

from __future__ import annotations

from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations
from archlag.polling.repository_state import RepositoryState

AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
HOUR = 3600.0
# arm64's measured delays in minutes, 12 releases: median (nearest rank) 18, p95 25 (the largest)
ARM_MINUTES = (18, 12, 20, 25, 14, 18, 24, 16, 19, 17, 22, 15)


def with_history(
    now: float, registry: str = "r.example", name: str = "demo/app"
) -> RepositoryState:
    """arm64 usually +18m (p95 25m over 12 releases: late 37m30s after the first platform with
    the default margin), arm/v7 never measured (stall_after decides). 2.2 began a minute before
    ``now``, 2.1 three hours before; both have amd64 only and expect arm64 and arm/v7 too."""
    repo = RepositoryState(registry, name, (0.0, 60.0))
    for minutes in ARM_MINUTES:
        repo.observe(AMD, 0.0, estimated=False)
        repo.observe(ARM, minutes * 60.0, estimated=False)
    for tag, began in (("2.2", now - 60), ("2.1", now - 3 * HOUR)):
        state = apply_content(None, tag, Content("sha256:" + tag, {AMD: "sha256:a"}), began).state
        repo.tags[tag] = begin_expectations({tag: state}, frozenset({AMD, ARM, V7}))[tag]
    repo.selected = ("2.2", "2.1")
    return repo
