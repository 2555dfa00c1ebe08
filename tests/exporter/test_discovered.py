"""What discovery found, turned into watches and judged running images (pure helpers of the
exporter)."""

from __future__ import annotations

from archlag.config import Watch, WatchSettings
from archlag.core.platforms import Platform, parse_platform
from archlag.core.references import parse_reference
from archlag.core.snapshots import RepositorySnapshot
from archlag.core.status import WatchStatus
from archlag.discovery import DiscoveredImage
from archlag.exporter.discovered import RunningJudge, images_of, merge_watches
from tests.support.snapshots import repository_snapshot

ARM, AMD = parse_platform("linux/arm64"), parse_platform("linux/amd64")


def found(
    repository: str, tag: str, platform: Platform | None, source: str, containers: int = 1
) -> DiscoveredImage:
    return DiscoveredImage("docker.io", repository, tag, None, platform, source, containers)


def test_a_configured_watch_wins_and_nothing_is_polled_twice() -> None:
    configured = Watch(parse_reference("docker.io/gotify/server"), WatchSettings(interval=30.0))
    defaults = WatchSettings(interval=600.0)
    discovered = [("docker.io", "gotify/server"), ("ghcr.io", "o/r"), ("ghcr.io", "o/r")]
    watches = merge_watches([configured], discovered, defaults)
    assert [(w.registry, w.repository, w.settings.interval) for w in watches] == [
        ("docker.io", "gotify/server", 30.0),
        ("ghcr.io", "o/r", 600.0),
    ]


def test_images_are_counted_per_reference_platform_and_source() -> None:
    images = images_of([
        found("gotify/server", "2.6.0", ARM, "kubernetes", 2),
        found("gotify/server", "2.6.0", ARM, "files"),
        found("gotify/server", "2.6.0", AMD, "kubernetes"),
        found("gotify/server", "2.6.0", None, "files"),  # platform unknown: not judged
    ])  # fmt: skip
    assert {str(i.platform): dict(i.containers) for i in images} == {
        "linux/arm64": {"kubernetes": 2, "files": 1},
        "linux/amd64": {"kubernetes": 1},
    }


def test_the_judge_judges_again_only_when_something_changed() -> None:
    snapshot: list[RepositorySnapshot] = [repository_snapshot(status=WatchStatus("ok"))]

    def repository(registry: str, name: str) -> RepositorySnapshot:
        return snapshot[0]

    judge = RunningJudge(repository)
    judge.update(images_of([found("demo/app", "1.0", ARM, "files")]))
    first = judge.statuses()
    assert judge.statuses() is first, "nothing changed: the same judgement"
    snapshot[0] = repository_snapshot(status=WatchStatus("ok"), generation=2)
    assert judge.statuses() is not first, "the repository changed"
    assert first[0].state == "unknown"
