"""The Kubernetes source against a fake API server on loopback: list and watch, owners, nodes,
bookmarks, 410 Gone, RBAC, a lost connection and hostile objects."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.support.asgi_server import Served, serving
from tests.support.fake_kube import FakeKube
from tests.support.kube_cluster import EXPECTED, Watching, kubeconfig, populate, seen, source
from tests.support.log_lines import logged

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[FakeKube, Served]]:
    kube = FakeKube()
    populate(kube)
    async with serving(kube.app, "127.0.0.1:0") as served:
        yield kube, served


def lists(kube: FakeKube, path: str = "/api/v1/pods") -> int:
    return sum(1 for asked in kube.requests if asked.path == path and asked.first_page)


async def test_pods_give_their_workload_node_platform_and_digest(
    cluster: tuple[FakeKube, Served], tmp_path: Path
) -> None:
    kube, served = cluster
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None)
        group.cancel_scope.cancel()

    assert report.reading is not None
    assert seen(report.reading) == EXPECTED
    assert report.reading.invalid == 0
    assert lists(kube) == 1, "one list (in pages), then a watch"
    pages = [r for r in kube.requests if r.path == "/api/v1/pods" and not r.watch]
    assert len(pages) == 5, "9 pods, 2 a page"


async def test_watch_events_add_change_and_remove_pods(
    cluster: tuple[FakeKube, Served], tmp_path: Path
) -> None:
    kube, served = cluster
    report = Watching()

    def images(r: Watching) -> set[str]:
        return {s.image for s in r.reading.sightings} if r.reading else set()

    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None)
        kube.pod("shop", "db-0", {"db": "postgres:17-alpine"}, node="arm-1",
                 owner=("StatefulSet", "db"))  # fmt: skip
        await report.until(lambda r: "docker.io/library/postgres:17-alpine" in images(r))
        kube.delete("pods", "kube-system/agent-x2x9k")
        await report.until(lambda r: "docker.io/library/busybox:1.36" not in images(r))
        kube.node("old-1", "arm64")  # relabelled: its pods now run on linux/arm64
        kube.pod("kube-system", "agent-new", {"agent": "busybox:1.37"}, node="old-1",
                 owner=("DaemonSet", "agent"))  # fmt: skip
        await report.until(lambda r: "docker.io/library/busybox:1.37" in images(r))
        group.cancel_scope.cancel()

    assert report.reading is not None
    db = [s for s in report.reading.sightings if s.repository == "library/postgres"]
    assert [(s.tag, str(s.platform)) for s in db] == [("17-alpine", "linux/arm64")]
    agent = [s for s in report.reading.sightings if s.workload == "kube-system/DaemonSet/agent"]
    assert [str(s.platform) for s in agent] == ["linux/arm64"]
    assert lists(kube) == 1, "events, no new list"


async def test_a_watch_resumes_from_its_bookmark_and_lists_again_on_gone(
    cluster: tuple[FakeKube, Served], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "archlag.discovery")
    kube, served = cluster
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None)
        kube.bookmark()
        mark = str(kube._version)
        with anyio.fail_after(10):
            while not any(r.version == mark for r in kube.requests if r.watch):
                kube.end_watches()  # the server ends the watch; archlag starts it again
                await anyio.sleep(0.05)
        kube.pod("shop", "late", {"app": "ghcr.io/shop/late:1"}, node="arm-1")
        kube.compact()  # before any watch could send it: only a new list will tell
        kube.end_watches()
        await report.until(lambda r: any(s.repository == "shop/late" for s in r.reading.sightings))  # type: ignore[union-attr]
        group.cancel_scope.cancel()

    assert lists(kube) == 2, "410 Gone: listed again"
    assert logged(caplog, "discovery_relist")
    assert report.reading is not None
    assert len(report.reading.sightings) == len(EXPECTED) + 1


@pytest.mark.parametrize(
    ("namespaces", "paths", "workloads"),
    [
        (("shop",), ["/api/v1/namespaces/shop/pods"], 5),
        (("shop", "kube-system"),
         ["/api/v1/namespaces/shop/pods", "/api/v1/namespaces/kube-system/pods"], 6),
        (("!kube-system",), ["/api/v1/pods"], 5),
    ],
)  # fmt: skip
async def test_namespaces_are_listed_or_left_out(
    cluster: tuple[FakeKube, Served],
    tmp_path: Path,
    namespaces: tuple[str, ...],
    paths: list[str],
    workloads: int,
) -> None:
    kube, served = cluster
    report = Watching()
    watcher = source(kubeconfig(tmp_path, served.url), namespaces=namespaces)
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, report)
        await report.until(lambda r: r.reading is not None)
        group.cancel_scope.cancel()

    assert report.reading is not None
    assert len({s.workload for s in report.reading.sightings}) == workloads
    asked = {r.path for r in kube.requests if r.path.endswith("/pods")}
    assert asked == set(paths)


async def test_without_rbac_the_source_is_down_and_says_what_is_missing(
    cluster: tuple[FakeKube, Served], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "archlag.discovery")
    kube, served = cluster
    kube.forbidden = {"pods"}
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reason is not None and "forbidden" in r.reason)
        kube.forbidden = set()  # the ClusterRole is applied: it recovers by itself
        await report.until(lambda r: r.reading is not None)
        group.cancel_scope.cancel()

    (failed, *_) = logged(caplog, "discovery_kubernetes_failed")
    assert failed["path"] == "/api/v1/pods"
    assert str(failed["reason"]).startswith(
        '/api/v1/pods: HTTP 403: pods is forbidden: User "system:serviceaccount:monitoring:'
        'archlag" cannot list resource "pods" in API group "" at the cluster scope'
    )
    assert "needs get, list and watch on pods and nodes" in str(failed["reason"])
    assert logged(caplog, "discovery_kubernetes_recovered")


async def test_without_nodes_the_pods_still_count_on_unknown_platforms(
    cluster: tuple[FakeKube, Served], tmp_path: Path
) -> None:
    kube, served = cluster
    kube.forbidden = {"nodes"}
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None and "nodes" in r.reading.note)
        group.cancel_scope.cancel()

    assert report.reading is not None
    assert {s.platform for s in report.reading.sightings} == {None}
    assert len(report.reading.sightings) == len(EXPECTED)
    assert report.reading.note.startswith("nodes: /api/v1/nodes: HTTP 403: nodes is forbidden")
    assert report.reading.note.endswith("(platforms unknown)")


async def test_a_lost_api_server_keeps_the_last_set_and_comes_back(
    cluster: tuple[FakeKube, Served], tmp_path: Path
) -> None:
    _, served = cluster
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None)
        readings = report.readings
        await served.stop()
        await report.until(lambda r: r.reason is not None)
        reason = report.reason
        await served.start()
        await report.until(lambda r: r.reason is None and r.readings > readings)
        group.cancel_scope.cancel()

    assert reason is not None
    assert reason.startswith("cannot reach the API server (kubeconfig ") or "was cut" in reason
    assert report.reading is not None
    assert seen(report.reading) == EXPECTED


async def test_hostile_objects_fail_alone(
    cluster: tuple[FakeKube, Served], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kube, served = cluster
    kube.objects["pods"]["shop/bad"] = {
        "metadata": {"name": "bad", "namespace": "shop", "uid": "u-bad"},
        "spec": {"containers": 7},
    }
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(source(kubeconfig(tmp_path, served.url)).run, report)
        await report.until(lambda r: r.reading is not None)
        kube.raw("pods", json.dumps({"type": "ADDED", "object": {"spec": {}}}).encode())
        kube.raw("pods", json.dumps({"type": "ADDED", "object": {
            "metadata": {"name": "no-image", "namespace": "shop", "uid": "u-2"},
            "spec": {"containers": [{"name": "x"}]}}}).encode())  # fmt: skip
        kube.raw("pods", b"{not json")
        kube.raw("pods", b'{"type": "ADDED", "object": {"x": "' + b"y" * (5 << 20) + b'"}}')
        kube.raw("pods", b"[" * 200 + b"]" * 200)
        kube.pod("shop", "after", {"app": "ghcr.io/shop/after:1"}, node="arm-1")
        await report.until(
            lambda r: any(s.repository == "shop/after" for s in r.reading.sightings)  # type: ignore[union-attr]
        )
        group.cancel_scope.cancel()

    assert report.reading is not None
    assert len(report.reading.sightings) == len(EXPECTED) + 1
    items = {(f["item"], f["reason"]) for f in logged(caplog, "discovery_item_failed")}
    assert ("shop/bad", "spec.containers is not a list of at most 100") in items
    assert ("shop/no-image", "image is missing or longer than 512") in items
    assert (
        "(an object without metadata)",
        "the object has no metadata.uid or metadata.name",
    ) in items
    assert report.reading.invalid == 1, "the list after the broken stream holds one bad pod"
