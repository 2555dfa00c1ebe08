"""archlag's image built from the checkout with buildah, and run with podman as a user runs it.

:func:`build_archlag_image` builds the Dockerfile on the Debian-made Python base of
:mod:`tests.support.debian_base` (``--build-arg PYTHON_IMAGE``) with
``buildah bud --format docker --isolation chroot --pull=never``: without ``--format docker``
buildah writes an OCI image, which has no HEALTHCHECK (it warns once and drops it).

pip inside the build reaches the package index over HTTPS. Where a TLS-inspecting proxy stands
in the way, the base's CA bundle does not know the proxy's CA: the build then mounts this
machine's bundle over the base's for its RUN steps (``--volume``, never copied into a layer).
Which case this machine is in is found out, not assumed: a container of the base fetches the
index first without, then with the host's bundle.

:class:`ArchlagContainer` runs the image detached in a network namespace of its own (slirp4netns,
``-p 127.0.0.1:PORT:10043``), as ``docker run -p`` does: archlag listens on the image's port
10043, where its HEALTHCHECK looks, and reaches the machine's loopback (the test registry) at
:data:`HOST_LOOPBACK`.

Errors: :class:`~tests.support.podman.PodmanError` and its subclasses.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import yaml

from tests.support.archlag_process import Scrape
from tests.support.debian_base import python_base_image
from tests.support.paths import ROOT
from tests.support.podman import Podman, PodmanError, health_flags
from tests.support.registry_server import free_loopback_port

__all__ = [
    "HOST_CA_BUNDLE",
    "HOST_LOOPBACK",
    "ArchlagContainer",
    "BuiltImage",
    "build_archlag_image",
    "index_needs_host_ca",
]

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PACKAGE_INDEX = "https://pypi.org/simple/pip/"  # pip's default index
HOST_LOOPBACK = "10.0.2.2"  # the machine's 127.0.0.1, seen from slirp4netns
IMAGE_PORT = 10043
BUILD_TIMEOUT = 900.0  # seconds; pip downloads every dependency
_PROBE = (
    "import urllib.request;"
    f"urllib.request.urlopen(urllib.request.Request({PACKAGE_INDEX!r}, method='HEAD'), timeout=30)"
)
_READY_CHECKS = 300  # x 0.1 s for archlag to answer after its container started


@dataclass(frozen=True, slots=True)
class BuiltImage:
    reference: str
    base: str
    size: int  # bytes, as podman reports it
    base_size: int
    host_ca_mounted: bool  # the build needed this machine's CA bundle
    build_seconds: float

    def report(self) -> str:
        mib = 1024 * 1024
        return (
            f"{self.reference}: {self.size / mib:.0f} MiB ({self.base_size / mib:.0f} MiB of it"
            f" the Debian-made Python base), built in {self.build_seconds:.0f} s"
            f"{' with the host CA bundle mounted' if self.host_ca_mounted else ''}"
        )


def index_needs_host_ca(podman: Podman, base: str) -> bool:
    """Whether a container of ``base`` needs this machine's CA bundle to reach the index."""
    probe = ["run", "--rm", "--network", "host"]
    if podman.podman(*probe, base, "python3", "-c", _PROBE, check=False).returncode == 0:
        return False
    mount = f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"
    mounted = podman.podman(*probe, "-v", mount, base, "python3", "-c", _PROBE, check=False)
    if mounted.returncode == 0:
        return True
    raise PodmanError(
        f"{PACKAGE_INDEX} cannot be reached from a container, even with {HOST_CA_BUNDLE}"
        f" mounted; pip in the image build would fail:\n{mounted.stderr[-2000:]}"
    )


def build_archlag_image(podman: Podman, reference: str) -> BuiltImage:
    """Build the checkout's Dockerfile into ``reference`` in ``podman``'s store."""
    base = python_base_image()
    host_ca = index_needs_host_ca(podman, base)
    args = [
        "bud", "--format", "docker", "--isolation", "chroot", "--pull=never",
        "--build-arg", f"PYTHON_IMAGE={base}", "--tag", reference,
    ]  # fmt: skip
    if host_ca:
        args += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    started = time.monotonic()
    podman.buildah(*args, str(ROOT), timeout=BUILD_TIMEOUT)
    seconds = time.monotonic() - started
    return BuiltImage(
        reference=reference,
        base=base,
        size=int(podman.inspect("image", reference)["Size"]),
        base_size=int(podman.inspect("image", base)["Size"]),
        host_ca_mounted=host_ca,
        build_seconds=seconds,
    )


class ArchlagContainer:
    """``podman run -d`` of the image with ``config`` mounted read-only at
    /etc/archlag/config.yml and a named volume at /var/lib/archlag, the root filesystem
    read-only (as deploy/kubernetes runs it); ``url`` reaches its port 10043."""

    def __init__(self, podman: Podman, image: str, workdir: Path, config: dict[str, Any]) -> None:
        self.podman = podman
        self.image = image
        token = secrets.token_hex(4)
        self.name = f"archlag-{token}"
        self.volume = f"archlag-state-{token}"
        self.config_path = workdir / "config.yml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.podman.podman(
            "run", "--detach", "--name", self.name,
            "--network", "slirp4netns:allow_host_loopback=true",
            "--publish", f"127.0.0.1:{self.port}:{IMAGE_PORT}",
            "--read-only",
            "--volume", f"{self.volume}:/var/lib/archlag",
            "--volume", f"{self.config_path}:/etc/archlag/config.yml:ro",
            *health_flags(self.podman, self.image),
            self.image,
        )  # fmt: skip
        for _ in range(_READY_CHECKS):
            if self.state()["Status"] != "running":
                raise PodmanError(f"archlag's container stopped:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/-/healthy", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise PodmanError(f"archlag's container never answered on {self.url}:\n{self.logs()}")

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.podman.inspect("container", self.name)["State"]
        return state

    def logs(self) -> str:
        result = self.podman.podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def scrape(self) -> Scrape:
        response = httpx.get(f"{self.url}/metrics", timeout=5)
        response.raise_for_status()
        return Scrape(response.text)

    def wait_for(self, condition: Callable[[Scrape], bool], what: str, checks: int = 150) -> Scrape:
        """Scrape (every 0.2 s, at most ``checks`` times) until ``condition(scrape)`` holds."""
        for _ in range(checks):
            scrape = self.scrape()
            if condition(scrape):
                return scrape
            time.sleep(0.2)
        raise AssertionError(f"archlag's container never showed {what}:\n{self.logs()}")

    def volume_path(self) -> Path:
        """Where the state volume's files are on this machine."""
        return Path(self.podman.inspect("volume", self.volume)["Mountpoint"])

    def close(self) -> None:
        self.podman.podman("rm", "--force", "--time", "0", self.name, check=False)
        self.podman.podman("volume", "rm", "--force", self.volume, check=False)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
