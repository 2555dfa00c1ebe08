"""Merging the sources' sets: containers counted per image, grace, the bound, sources down."""

from __future__ import annotations

from archlag.core.platforms import parse_platform
from archlag.discovery.interface import Reading
from archlag.discovery.ledger import NOT_READ_YET, Ledger
from archlag.discovery.sighting import Sighting, SourceName, sighting

AMD, ARM = parse_platform("linux/amd64"), parse_platform("linux/arm64")


def pod(reference: str, name: str, platform: object = ARM) -> Sighting:
    return sighting(
        reference, source="kubernetes", workload=f"shop/Deployment/{name.rsplit('-', 1)[0]}",
        container="app", instance=name, platform=platform,
    )  # fmt: skip


def container(reference: str, name: str) -> Sighting:
    return sighting(
        reference, source="docker", workload=name, container=name, instance=name, platform=AMD
    )


def ledger(*sources: SourceName, grace: float = 60.0, max_images: int = 500) -> Ledger:
    book = Ledger(grace, max_images)
    for name in sources:
        book.add(name, 0.0)
    return book


def test_containers_are_counted_per_image_and_platform() -> None:
    book = ledger("kubernetes", "docker")
    book.published(
        "kubernetes",
        Reading((pod("gotify/server:2.6", "web-1"), pod("gotify/server:2.6", "web-2"),
                 pod("gotify/server:2.6", "web-3", AMD))),
        1.0,
    )  # fmt: skip
    book.published("docker", Reading((container("gotify/server:2.6", "pi"),), invalid=1), 1.0)

    snapshot = book.settle(1.0)

    counts = {(i.platform, i.source): i.containers for i in snapshot.images}
    assert counts == {(ARM, "kubernetes"): 2, (AMD, "kubernetes"): 1, (AMD, "docker"): 1}
    assert snapshot.repositories() == (("docker.io", "gotify/server"),)
    assert len(snapshot.sightings) == 4
    assert [(s.name, s.up, s.sightings, s.images, s.invalid) for s in snapshot.sources] == [
        ("kubernetes", True, 3, 2, 0),
        ("docker", True, 1, 1, 1),
    ]


def test_an_image_that_stopped_running_stays_for_grace_then_leaves() -> None:
    book = ledger("kubernetes", grace=60.0)
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 0.0)
    book.settle(0.0)
    book.published("kubernetes", Reading((pod("app:1.1", "web-2"),)), 10.0)

    during = book.settle(69.0)
    after = book.settle(70.0)

    assert [(i.tag, i.containers, i.gone_since) for i in during.images] == [
        ("1.0", 0, 10.0),
        ("1.1", 1, None),
    ]
    assert book.next_expiry() is None
    assert [(i.tag, i.containers) for i in after.images] == [("1.1", 1)]


def test_an_image_back_before_grace_ran_out_is_running_again() -> None:
    book = ledger("kubernetes")
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 0.0)
    book.settle(0.0)
    book.published("kubernetes", Reading(()), 5.0)
    book.settle(5.0)
    assert book.next_expiry() == 65.0
    book.published("kubernetes", Reading((pod("app:1.0", "web-2"),)), 30.0)

    snapshot = book.settle(100.0)

    assert [(i.tag, i.containers, i.gone_since) for i in snapshot.images] == [("1.0", 1, None)]


def test_a_source_that_is_down_keeps_its_last_set() -> None:
    book = ledger("kubernetes", "docker", grace=0.0)
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 0.0)
    book.settle(0.0)

    book.down("kubernetes", "API server unreachable: ConnectError", 5.0)
    down = book.settle(500.0)
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 600.0)
    up = book.settle(600.0)

    status = down.source("kubernetes")
    assert status is not None
    assert (status.up, status.reason, status.since, status.sightings) == (
        False, "API server unreachable: ConnectError", 5.0, 1,
    )  # fmt: skip
    assert [i.containers for i in down.images] == [1]
    assert down.source("docker") == up.source("docker")
    docker = down.source("docker")
    assert docker is not None
    assert (docker.up, docker.reason) == (False, NOT_READ_YET)
    back = up.source("kubernetes")
    assert back is not None
    assert (back.up, back.reason, back.since) == (True, "", 600.0)


def test_at_most_max_images_repositories_the_first_kept_stay() -> None:
    book = ledger("docker", max_images=2, grace=0.0)
    book.published("docker", Reading((container("b/b", "1"), container("c/c", "2"))), 0.0)
    book.settle(0.0)

    book.published(
        "docker", Reading((container("a/a", "0"), container("b/b", "1"), container("c/c", "2"))),
        1.0,
    )  # fmt: skip
    crowded = book.settle(1.0)
    book.published("docker", Reading((container("a/a", "0"), container("c/c", "2"))), 2.0)
    roomier = book.settle(2.0)

    assert crowded.repositories() == (("docker.io", "b/b"), ("docker.io", "c/c"))
    assert crowded.refused_repositories == 1
    status = crowded.source("docker")
    assert status is not None
    assert (status.sightings, status.images, status.refused) == (3, 3, 1)
    assert [s.repository for s in crowded.sightings] == ["b/b", "c/c"]
    assert roomier.repositories() == (("docker.io", "a/a"), ("docker.io", "c/c"))
    assert roomier.refused_repositories == 0


def test_a_removed_source_takes_its_images_at_once() -> None:
    book = ledger("kubernetes", "docker")
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 0.0)
    book.published("docker", Reading((container("db:16", "db"),)), 0.0)
    book.settle(0.0)

    book.remove("kubernetes")
    snapshot = book.settle(1.0)

    assert [s.name for s in snapshot.sources] == ["docker"]
    assert snapshot.repositories() == (("docker.io", "library/db"),)


def test_the_same_readings_give_an_equal_snapshot() -> None:
    book = ledger("kubernetes")
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 0.0)
    first = book.settle(0.0)
    book.published("kubernetes", Reading((pod("app:1.0", "web-1"),)), 30.0)

    assert book.settle(30.0) == first
