"""What runs, judged against what is published: the update state per platform (pure logic)."""

from __future__ import annotations

import pytest

from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations
from archlag.core.snapshots import RunningImage, TagView
from archlag.core.status import WatchStatus
from archlag.core.updates import (
    AVAILABLE,
    CURRENT,
    UNKNOWN,
    WAITING,
    judge,
    judge_all,
    shape,
)
from tests.support.snapshots import repository_snapshot

AMD, ARM = parse_platform("linux/amd64"), parse_platform("linux/arm64")
OK = WatchStatus("ok", "", 1.0)


def view(tag: str, *platforms, at: float = 1000.0, digest: str | None = None) -> TagView:
    content = Content(
        digest or f"sha256:{tag}", {p: f"sha256:{tag}-{p.architecture}" for p in platforms}
    )
    state = apply_content(None, tag, content, at).state
    return TagView(begin_expectations({tag: state}, frozenset({AMD, ARM}))[tag])


def repo(*views: TagView):
    return repository_snapshot(*views, status=OK)


def running(tag: str | None, platform=ARM, digest: str | None = None) -> RunningImage:
    return RunningImage("127.0.0.1:5000", "demo/app", tag, digest, platform, {"files": 1})


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("1.27-alpine", "#.#-alpine"), ("v2.6.1", "v#.#.#"), ("latest", "latest"), ("2024.01", "#.#")],
)
def test_shape(tag: str, expected: str) -> None:
    assert shape(tag) == expected


def test_a_newer_release_with_my_platform_is_available() -> None:
    status = judge(running("1.0"), repo(view("1.1", AMD, ARM), view("1.0", AMD, ARM)))
    assert (status.state, status.newest) == (AVAILABLE, "1.1")


def test_a_newer_release_without_my_platform_is_waiting_since_it_appeared() -> None:
    snapshot = repo(view("1.1", AMD, at=2000.0), view("1.0", AMD, ARM))
    status = judge(running("1.0", ARM), snapshot)
    assert (status.state, status.waiting_for, status.waiting_since) == (WAITING, "1.1", 2000.0)
    amd = judge(running("1.0", AMD), snapshot)
    assert (amd.state, amd.newest) == (AVAILABLE, "1.1"), "the same release is out for amd64"


def test_an_intermediate_release_with_my_platform_is_an_update_out_for_me() -> None:
    snapshot = repo(view("1.2", AMD, at=3000.0), view("1.1", AMD, ARM), view("1.0", AMD, ARM))
    status = judge(running("1.0", ARM), snapshot)
    assert (status.state, status.newest) == (AVAILABLE, "1.1")


def test_the_newest_is_current_and_other_shapes_do_not_count() -> None:
    snapshot = repo(view("2.0-alpine", AMD, ARM), view("1.0", AMD, ARM), view("1.0-alpine", AMD))
    assert judge(running("1.0"), snapshot).state == CURRENT
    alpine = judge(running("1.0-alpine", ARM), snapshot)
    assert (alpine.state, alpine.newest) == (AVAILABLE, "2.0-alpine")
    assert judge(running("10"), snapshot).state == UNKNOWN, "no tag of the shape # in view"


def test_numbers_compare_as_numbers() -> None:
    snapshot = repo(view("1.10", AMD, ARM), view("1.9", AMD, ARM))
    assert (judge(running("1.9"), snapshot).newest) == "1.10"
    assert judge(running("1.10"), snapshot).state == CURRENT


def test_a_moving_tag_is_new_when_its_digest_for_my_platform_changed() -> None:
    snapshot = repo(view("latest", AMD, ARM, digest="sha256:index2"))
    assert judge(running("latest", ARM, "sha256:index2"), snapshot).state == CURRENT
    assert judge(running("latest", ARM, "sha256:latest-arm64"), snapshot).state == CURRENT
    assert judge(running("latest", ARM, "sha256:old"), snapshot).state == AVAILABLE
    assert judge(running("latest", ARM, None), snapshot).state == UNKNOWN
    lagging = repo(view("latest", AMD, digest="sha256:index3", at=5000.0))
    status = judge(running("latest", ARM, "sha256:old"), lagging)
    assert (status.state, status.waiting_since) == (WAITING, 5000.0)


def test_a_digest_is_the_tag_in_view_that_has_it() -> None:
    snapshot = repo(view("1.1", AMD, ARM), view("1.0", AMD, ARM))
    by_index = judge(running(None, ARM, "sha256:1.0"), snapshot)
    assert (by_index.tag, by_index.state, by_index.newest) == ("1.0", AVAILABLE, "1.1")
    by_manifest = judge(running(None, ARM, "sha256:1.1-arm64"), snapshot)
    assert (by_manifest.tag, by_manifest.state) == ("1.1", CURRENT)
    assert judge(running(None, ARM, "sha256:gone"), snapshot).state == UNKNOWN


def test_unknown_before_the_repository_is_read() -> None:
    assert judge(running("1.0"), None).state == UNKNOWN
    assert judge(running("1.0"), repository_snapshot()).state == UNKNOWN


def test_judge_all_is_in_a_stable_order() -> None:
    snapshot = repo(view("1.0", AMD, ARM))
    images = [running("1.0", ARM), running("1.0", AMD)]
    judged = judge_all(images, {("127.0.0.1:5000", "demo/app"): snapshot})
    assert [str(s.image.platform) for s in judged] == ["linux/amd64", "linux/arm64"]
