"""Benchmark: what discovery costs on a large cluster, a busy Docker host and a big checkout.

Prints numbers; asserts nothing. Each source beside the bare library calls it wraps, in one run:

- Kubernetes: the first reading of PODS pods (2 containers each, 500 a page) on 50 nodes from
  the fake API server on loopback, against bare httpx GETs of the same pages decoded with
  ``json.loads``; then one reading after a burst of 200 pod changes (taken together by
  ``settle``);
- Docker: the first and a quiet reading of 500 containers from the fake Engine API on a unix
  socket, with the requests each cost;
- files: one reading of 1,000 Compose stacks against bare ``yaml.safe_load`` of the same files;
- the ledger: merging the Kubernetes set into a snapshot.

Usage, from the repository root: python -m benchmarks.discovery_scale [PODS] (default 5000)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
import yaml
from tests.support.asgi_server import serving
from tests.support.fake_engine import FakeEngine
from tests.support.fake_kube import FakeKube
from tests.support.kube_cluster import QUICK, Watching, kubeconfig

from archlag.config.settings import DockerDiscovery, FilesDiscovery, KubernetesDiscovery
from archlag.core.platforms import parse_platform
from archlag.discovery.docker_source import DockerSource
from archlag.discovery.engine_api import EngineClient
from archlag.discovery.files_source import FilesSource
from archlag.discovery.interface import Reading
from archlag.discovery.kube_source import KubernetesSource
from archlag.discovery.ledger import Ledger


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> str:
    wall, cpu = clocks()
    return f"{wall - start[0]:.3f}s wall {cpu - start[1]:.3f}s cpu"


async def kubernetes(pods: int, folder: Path) -> Reading:
    kube = FakeKube(page_size_cap=500)
    for n in range(50):
        kube.node(f"node-{n}", "arm64" if n % 2 else "amd64")
    for n in range(pods):
        kube.pod(f"ns-{n % 20}", f"web-{n}-abcde", {"web": f"ghcr.io/o/web-{n % 300}:1.{n % 7}",
                 "proxy": "envoyproxy/envoy:v1.30.1"}, node=f"node-{n % 50}",
                 owner=("ReplicaSet", f"web-{n}"))  # fmt: skip
    async with serving(kube.app, "127.0.0.1:0") as served:
        start = clocks()
        async with httpx.AsyncClient(headers={"Authorization": "Bearer token-1"}) as client:
            following, items = "", 0
            while True:
                params = {"limit": "500", "continue": following}
                answer = await client.get(f"{served.url}/api/v1/pods", params=params)
                page = json.loads(answer.content)
                items += len(page["items"])
                following = page["metadata"].get("continue", "")
                if not following:
                    break
        print(f"kubernetes bare httpx list of {items} pods: {since(start)}")
        source = KubernetesSource(
            KubernetesDiscovery(kubeconfig(folder, served.url)), waits=QUICK, settle=0.2
        )
        report = Watching()
        async with anyio.create_task_group() as group:
            start = clocks()
            group.start_soon(source.run, report)
            await report.until(lambda r: r.reading is not None)
            print(f"kubernetes first reading, {len(report.reading.sightings)} sightings: "  # type: ignore[union-attr]
                  f"{since(start)}")  # fmt: skip
            readings, start = report.readings, clocks()
            for n in range(200):
                kube.pod(f"ns-{n % 20}", f"web-{n}-abcde", {"web": "ghcr.io/o/web-new:2"},
                         node=f"node-{n % 50}", owner=("ReplicaSet", f"web-{n}"))  # fmt: skip
            await report.until(lambda r: r.readings > readings and sum(
                s.repository == "o/web-new" for s in r.reading.sightings) == 200)  # type: ignore[union-attr]  # fmt: skip
            print(f"kubernetes 200 pod changes -> {report.readings - readings} reading(s): "
                  f"{since(start)} (settle 0.2s included)")  # fmt: skip
            group.cancel_scope.cancel()
    assert report.reading is not None
    return report.reading


async def docker(folder: Path) -> None:
    fake = FakeEngine()
    for n in range(500):
        fake.run(f"c{n}", f"ghcr.io/o/app-{n % 100}:{n % 5}", repo_digest=None)
    async with serving(fake.app, f"unix:{folder / 'docker.sock'}") as served:
        host = "unix://" + served.bind.removeprefix("unix:")
        source = DockerSource(DockerDiscovery(host))
        async with EngineClient(host) as client:
            for what in ("first", "quiet"):
                fake.requests.clear()
                start = clocks()
                reading = await source.read(client)
                print(f"docker {what} reading of {len(reading.sightings)} containers: "
                      f"{since(start)}, {len(fake.requests)} requests")  # fmt: skip


def files(folder: Path) -> None:
    for n in range(1000):
        stack = folder / "stacks" / f"s{n}"
        stack.mkdir(parents=True)
        (stack / "compose.yaml").write_text(
            "services:\n"
            + "".join(f"  svc{i}:\n    image: ghcr.io/o/s{n}-{i}:${{TAG:-1.{i}}}\n"
                      f"    labels: [tier=back]\n" for i in range(4))
        )  # fmt: skip
    start = clocks()
    for path in sorted((folder / "stacks").rglob("compose.yaml")):
        yaml.safe_load(path.read_text())
    print(f"files bare yaml.safe_load of 1000 compose files: {since(start)}")
    source = FilesSource(
        FilesDiscovery((folder / "stacks",), frozenset({parse_platform("linux/arm64")})),
        environ={},
    )
    start = clocks()
    reading = source.read_now()
    print(f"files reading of 1000 compose files, {len(reading.sightings)} sightings: "
          f"{since(start)}")  # fmt: skip


def ledger(reading: Reading) -> None:
    book = Ledger(3600.0, 10_000)
    book.add("kubernetes", 0.0)
    start = clocks()
    book.published("kubernetes", reading, 1.0)
    snapshot = book.settle(1.0)
    print(f"ledger: {len(reading.sightings)} sightings -> {len(snapshot.images)} images, "
          f"{len(snapshot.repositories())} repositories: {since(start)}")  # fmt: skip


async def main() -> None:
    pods = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        folder = Path(tmp)
        reading = await kubernetes(pods, folder)
        await docker(folder)
        files(folder)
        ledger(reading)


if __name__ == "__main__":
    anyio.run(main)
