"""The files source on a real folder: what it finds, what it leaves alone, hostile files."""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path

import anyio
import pytest

from archlag.config.settings import DiscoverySettings, FilesDiscovery
from archlag.core.platforms import parse_platform
from archlag.discovery import Discovery, DiscoverySnapshot, Reading
from archlag.discovery.files_source import FilesSource
from archlag.discovery.limits import MAX_FILE_BYTES
from tests.support.log_lines import logged
from tests.support.stacks import EXPECTED, write_stacks

AMD = parse_platform("linux/amd64")
ENVIRON = {"TAG": "2.6"}


def source(root: Path, **options: object) -> FilesSource:
    settings = FilesDiscovery((root,), frozenset({AMD}))
    return FilesSource(settings, environ=ENVIRON, **options)  # type: ignore[arg-type]


def seen(reading: Reading, root: Path) -> list[tuple[str, str, str, str]]:
    return sorted(
        (s.workload.removeprefix(f"{root}/").removeprefix("gotify/").removeprefix("app/"),
         s.container, s.image, str(s.platform))
        for s in reading.sightings
    )  # fmt: skip


def test_a_checkout_gives_what_its_files_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "archlag.discovery")
    root = write_stacks(tmp_path / "checkout")

    reading = source(root).read_now()

    assert seen(reading, root) == sorted(EXPECTED)
    assert reading.invalid == 0
    assert logged(caplog, "discovery_file_skipped") == [{
        "item": str(root / "chart" / "templates" / "deployment.yaml"),
        "note": "a template (Helm?), not YAML until rendered: skipped",
    }]  # fmt: skip


def test_only_workloads_marked_true_when_not_watched_by_default(tmp_path: Path) -> None:
    root = write_stacks(tmp_path / "checkout")

    reading = source(root, watch_by_default=False).read_now()

    assert [s.repository for s in reading.sightings] == ["gotify/server"], "diun.enable: true"


def test_a_single_file_can_be_a_path(tmp_path: Path) -> None:
    root = write_stacks(tmp_path / "checkout")
    settings = FilesDiscovery((root / "app" / "Dockerfile",), frozenset())

    reading = FilesSource(settings, environ={}).read_now()

    assert [(s.repository, s.platform) for s in reading.sightings] == [
        ("library/golang", None),
        ("distroless/static-debian12", None),
    ]


HOSTILE = {
    "huge/compose.yaml": "services:\n" + "  # padding\n" * (MAX_FILE_BYTES // 10),
    "deep/compose.yaml": "services: " + "[" * 5000 + "]" * 5000,
    "binary/Dockerfile": "FROM alpine\x00\x01\x02",
    "latin1/Dockerfile": "FROM caf\xe9",
    "malformed/compose.yaml": "services:\n  web: {image: nginx\n",
    "laughs/k8s.yaml": "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in pairwise("abcdefg")),
    "pods/pod.yaml": "kind: Pod\nmetadata: {name: p}\nspec: {containers: 7}\n",
    "dates/pod.yaml": "kind: Pod\nmetadata: {name: 2001-13-45}\n",
    "refs/Dockerfile": "FROM Not/A/Reference\n",
}


def test_hostile_files_fail_alone_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_stacks(tmp_path / "checkout")
    for name, text in HOSTILE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text.encode("latin-1"))
    files = source(root)

    first, second = files.read_now(), files.read_now()

    assert seen(first, root) == sorted(EXPECTED)
    assert first.invalid == second.invalid == len(HOSTILE)
    failed = {str(f["item"]).removeprefix(f"{root}/"): f["reason"]
              for f in logged(caplog, "discovery_item_failed")}  # fmt: skip
    assert len(logged(caplog, "discovery_item_failed")) == len(HOSTILE), "once, not per reading"
    assert failed == {
        "huge/compose.yaml": "larger than 1024 KiB",
        "deep/compose.yaml": "line 1: the document nests deeper than 64 levels",
        "binary/Dockerfile": "binary, not text",
        "latin1/Dockerfile": "not UTF-8 text",
        "malformed/compose.yaml": "line 3: not valid YAML: expected ',' or '}', but got "
        "'<stream end>'",
        "laughs/k8s.yaml": "the document expands to more than 100,000 YAML nodes (an alias "
        "repeats what it refers to at every use)",
        "pods/pod.yaml: Pod/p": "containers is not a list of at most 100",
        "dates/pod.yaml": "a value cannot be read: month must be in 1..12",
        "refs/Dockerfile:stage 0": "'Not/A/Reference': 'Not' is not a valid repository path "
        "component (lower-case letters, digits and separators . _ __ -)",
    }


def test_a_missing_path_is_a_failure_of_its_own(tmp_path: Path) -> None:
    root = write_stacks(tmp_path / "checkout")
    settings = FilesDiscovery((root, tmp_path / "gone"), frozenset({AMD}))

    reading = FilesSource(settings, environ=ENVIRON).read_now()

    assert reading.invalid == 1
    assert seen(reading, root) == sorted(EXPECTED)


@pytest.mark.anyio
async def test_files_are_read_again_every_interval(tmp_path: Path) -> None:
    root = write_stacks(tmp_path / "checkout")
    settings = DiscoverySettings(interval=0.05, files=FilesDiscovery((root,), frozenset({AMD})))
    changed = anyio.Event()

    def listener(snapshot: DiscoverySnapshot) -> None:
        changed.set()

    discovery = Discovery(settings, on_change=listener)
    async with anyio.create_task_group() as group:
        group.start_soon(discovery.run)
        with anyio.fail_after(10):
            while not discovery.snapshot().sightings:
                await changed.wait()
                changed = anyio.Event()
            (root / "k8s" / "shop.yaml").unlink()
            while any(s.repository == "shop/web" for s in discovery.snapshot().sightings):
                await changed.wait()
                changed = anyio.Event()
        group.cancel_scope.cancel()

    gone = [i for i in discovery.snapshot().images if i.repository == "shop/web"]
    assert [(i.containers, i.gone_since is not None) for i in gone] == [(0, True)], "grace: 1h"
