"""A small cluster on the fake API server (tests/support/fake_kube.py), and the discovery
source watching it through a kubeconfig, for the Kubernetes source's tests.

:func:`populate` builds it: an arm64 node, an amd64 node and an old arm node that says its
platform only in ``status.nodeInfo``; pods owned by a Deployment (through its ReplicaSet), a
StatefulSet, a DaemonSet, a CronJob (through its Job), a plain Job, one not scheduled yet, one
opted out, one finished. :class:`Watching` runs the source and waits for what it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio

from archlag.config.settings import KubernetesDiscovery
from archlag.discovery import Reading
from archlag.discovery.kube_source import KubernetesSource
from archlag.discovery.limits import RetryWaits
from tests.support.fake_kube import FakeKube

NGINX_DIGEST = "sha256:" + "1" * 64
QUICK = RetryWaits(initial=0.01, cap=0.05)
ARM64, AMD64, ARMV7 = "linux/arm64", "linux/amd64", "linux/arm/v7"
# (workload, container, image, platform) of every sighting of the populated cluster
EXPECTED = [
    ("kube-system/DaemonSet/agent", "agent", "docker.io/library/busybox:1.36", ARMV7),
    ("shop/CronJob/report", "report", "ghcr.io/shop/report:3", AMD64),
    ("shop/Deployment/web", "migrate", "ghcr.io/shop/migrate:1.4", AMD64),
    ("shop/Deployment/web", "migrate", "ghcr.io/shop/migrate:1.4", ARM64),
    ("shop/Deployment/web", "web", f"docker.io/library/nginx:1.27@{NGINX_DIGEST}", AMD64),
    ("shop/Deployment/web", "web", f"docker.io/library/nginx:1.27@{NGINX_DIGEST}", ARM64),
    ("shop/Job/once-off", "run", "docker.io/library/alpine:3.20", ARM64),
    ("shop/Pod/pending", "app", "ghcr.io/shop/app:2", "None"),
    ("shop/StatefulSet/db", "db", "docker.io/library/postgres:16-alpine", AMD64),
]


def populate(kube: FakeKube) -> None:
    kube.node("arm-1", "arm64")
    kube.node("amd-1", "amd64")
    kube.node("old-1", "arm", labels=False)
    web = {"web": "nginx:1.27"}
    pulled = {"web": f"docker-pullable://nginx@{NGINX_DIGEST}"}
    for name, node in (("web-7d4b9c-abcde", "arm-1"), ("web-7d4b9c-fghij", "amd-1")):
        kube.pod("shop", name, web, node=node, owner=("ReplicaSet", "web-7d4b9c"),
                 labels={"app": "web", "pod-template-hash": "7d4b9c"},
                 init={"migrate": "ghcr.io/shop/migrate:1.4"}, pulled=pulled)  # fmt: skip
    kube.pod("shop", "db-0", {"db": "postgres:16-alpine"}, node="amd-1",
             owner=("StatefulSet", "db"))  # fmt: skip
    kube.pod("kube-system", "agent-x2x9k", {"agent": "busybox:1.36"}, node="old-1",
             owner=("DaemonSet", "agent"))  # fmt: skip
    kube.pod("shop", "report-28912345-k4j2l", {"report": "ghcr.io/shop/report:3"},
             node="amd-1", owner=("Job", "report-28912345"))  # fmt: skip
    kube.pod("shop", "once-off-9x8v7", {"run": "alpine:3.20"}, node="arm-1",
             owner=("Job", "once-off"))  # fmt: skip
    kube.pod("shop", "done-1", {"run": "alpine:3.19"}, node="arm-1", phase="Succeeded")
    kube.pod("shop", "pending", {"app": "ghcr.io/shop/app:2"}, phase="Pending")
    kube.pod("shop", "debug", {"shell": "busybox:latest"}, node="arm-1",
             annotations={"archlag.io/watch": "false"})  # fmt: skip


def kubeconfig(folder: Path, server: str, token_file: str = "token") -> Path:  # noqa: S107
    """A kubeconfig for ``server`` whose user reads ``token_file`` (relative to it)."""
    path = folder / "kubeconfig"
    path.write_text(f"""\
apiVersion: v1
kind: Config
current-context: test
contexts: [{{name: test, context: {{cluster: fake, user: archlag}}}}]
clusters: [{{name: fake, cluster: {{server: "{server}"}}}}]
users: [{{name: archlag, user: {{tokenFile: {token_file}}}}}]
""")
    if not (folder / token_file).exists():
        (folder / token_file).write_text("token-1\n")
    return path


def seen(reading: Reading) -> list[tuple[str, str, str, str]]:
    return sorted((s.workload, s.container, s.image, str(s.platform)) for s in reading.sightings)


class Watching:
    """A :class:`~archlag.discovery.interface.Report` that keeps what the source said."""

    def __init__(self) -> None:
        self.reading: Reading | None = None
        self.reason: str | None = None  # why it is down; None while up
        self.readings = 0
        self._changed = anyio.Event()

    def publish(self, reading: Reading) -> None:
        self.reading, self.reason = reading, None
        self.readings += 1
        self._wake()

    def down(self, reason: str) -> None:
        self.reason = reason
        self._wake()

    async def until(self, done: Callable[[Watching], bool]) -> None:
        with anyio.fail_after(10):
            while not done(self):
                await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


def source(config: Path, **settings: object) -> KubernetesSource:
    return KubernetesSource(
        KubernetesDiscovery(config, **settings),
        waits=QUICK,
        settle=0.0,  # type: ignore[arg-type]
    )
