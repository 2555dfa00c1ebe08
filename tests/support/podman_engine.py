"""Podman's Docker-compatible Engine API on a unix socket, and containers to find through it.

:class:`PodmanEngine` runs ``podman system service --time=0 unix://SOCKET`` over a session
store of :mod:`tests.support.podman`: the API Docker's clients speak (``GET /containers/json``,
``/containers/{id}/json``, ``/images/{id}/json``, ``/info``), served by the real podman. Its
helpers put containers behind it as a user's would be: from an image pulled from a registry
(the loopback test registry, ``--tls-verify=false``), running or only created, with labels.

The image is busybox (Debian's static ``/bin/busybox`` on an empty base: no Docker Hub), made
once in the image cache; :meth:`PodmanEngine.push_busybox` pushes it to a registry under any
name. Its command waits until SIGTERM and then exits 0, so ``stop`` is immediate.

Errors: :class:`~tests.support.podman.PodmanError` and its subclasses; a service that never
answers ``GET /_ping`` raises :class:`EngineStartError` with the tail of its log.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tests.support.podman import Podman, PodmanError, cached_image

__all__ = ["BUSYBOX", "EngineStartError", "PodmanEngine", "busybox_image"]

BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static
_CONTAINERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL org.opencontainers.image.title="archlag-test-busybox"
CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
"""
_START_ATTEMPTS = 200  # x _START_PAUSE: how long the service may take to answer
_START_PAUSE = 0.05
_STOP_TIMEOUT = 10.0


class EngineStartError(PodmanError):
    """``podman system service`` did not answer on its socket."""


def busybox_image() -> str:
    """The busybox image in the image cache, made from this machine's ``/bin/busybox``."""
    if not BUSYBOX.is_file():
        raise PodmanError(f"{BUSYBOX} not found: install the Debian package busybox-static")
    digest = hashlib.sha256(BUSYBOX.read_bytes() + _CONTAINERFILE.encode()).hexdigest()
    reference = f"localhost/archlag-test/busybox:{digest[:16]}"

    def make(cache: Podman) -> None:
        with tempfile.TemporaryDirectory(dir=cache.directory) as context:
            shutil.copy(BUSYBOX, Path(context) / "busybox")
            (Path(context) / "Containerfile").write_text(_CONTAINERFILE, encoding="utf-8")
            cache.buildah(
                "bud", "--format", "docker", "--isolation", "chroot", "--pull=never",
                "--tag", reference, context,
            )  # fmt: skip
        smoke = cache.podman("run", "--rm", reference, "true", check=False)
        if smoke.returncode != 0:
            cache.podman("rmi", reference, check=False)
            raise PodmanError(
                f"{BUSYBOX} does not run in an empty image (a dynamically linked busybox?):"
                f" install the Debian package busybox-static\n{smoke.stderr}"
            )

    return cached_image(reference, make)


class PodmanEngine:
    """The Engine API of a session store on ``socket``, and helpers for its containers.

    Use as a context manager (or call :meth:`start` and :meth:`close`): closing removes the
    containers made through the helpers and stops the service.
    """

    def __init__(self, podman: Podman, socket: Path, *, log: Path) -> None:
        self.podman = podman
        self.socket = socket
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._containers: list[str] = []

    @property
    def url(self) -> str:
        """``unix://SOCKET``, as DOCKER_HOST or CONTAINER_HOST take it."""
        return f"unix://{self.socket}"

    def start(self) -> None:
        """Start the service and wait (bounded) until it answers ``GET /_ping``."""
        self._process = process = self.podman.popen(
            "system", "service", "--time=0", self.url, log=self.log
        )
        for _ in range(_START_ATTEMPTS):
            if process.poll() is not None:
                break
            if self._listening():
                transport = httpx.HTTPTransport(uds=str(self.socket))
                with httpx.Client(transport=transport, base_url="http://podman") as client:
                    if client.get("/_ping", timeout=5).text == "OK":
                        return
            time.sleep(_START_PAUSE)
        self.close()
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise EngineStartError(f"podman system service never answered on {self.socket}\n{tail}")

    def _listening(self) -> bool:
        # A plain socket: httpx leaves the socket of a refused unix connection open.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
            return True

    def push_busybox(self, registry: str, repository: str, tag: str) -> str:
        """Push the busybox image to ``registry`` (``127.0.0.1:PORT``, plain HTTP) as
        ``repository:tag``; return the reference to run."""
        reference = f"{registry}/{repository}:{tag}"
        self.podman.podman("push", "--tls-verify=false", busybox_image(), f"docker://{reference}")
        return reference

    def run(
        self,
        reference: str,
        *,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        command: Sequence[str] = (),
    ) -> str:
        """Pull ``reference`` if needed and start a container of it (host network, detached);
        return its id."""
        return self._make(["run", "--detach"], reference, name=name, labels=labels, command=command)

    def create(
        self,
        reference: str,
        *,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        command: Sequence[str] = (),
    ) -> str:
        """Pull ``reference`` if needed and create a container of it without starting it."""
        return self._make(["create"], reference, name=name, labels=labels, command=command)

    def stop(self, container: str) -> None:
        """Stop ``container`` (SIGTERM, SIGKILL after 10 s); it stays, exited."""
        self.podman.podman("stop", "--time", str(int(_STOP_TIMEOUT)), container)

    def _make(
        self,
        verb: list[str],
        reference: str,
        *,
        name: str | None,
        labels: Mapping[str, str] | None,
        command: Sequence[str],
    ) -> str:
        args = [*verb, "--tls-verify=false", "--network", "host"]
        if name:
            args += ["--name", name]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        result = self.podman.podman(*args, reference, *command)
        container = result.stdout.strip().splitlines()[-1]
        self._containers.append(container)
        return container

    def close(self) -> None:
        """Remove the containers made here and stop the service."""
        if self._containers:
            self.podman.podman("rm", "--force", "--time", "0", *self._containers, check=False)
            self._containers.clear()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
