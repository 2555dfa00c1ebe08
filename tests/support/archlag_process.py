"""Run the real ``archlag`` command as a subprocess on a free loopback port, and scrape it."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

ARCHLAG = Path(sys.executable).parent / "archlag"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Scrape:
    """A /metrics body parsed back, with a ``get_sample_value`` like prometheus-client's."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
        wanted = set(labels.items())
        return {ls: v for (n, ls), v in self.samples.items() if n == name and wanted <= ls}


class ArchlagProcess:
    """``archlag -c CONFIG --web.listen-address 127.0.0.1:PORT``; stderr goes to a log file.

    With ``ca`` archlag serves TLS (its ``extra_args`` name the web configuration) and this
    client trusts that CA (and presents ``client_cert``, certificate and key, if given); with
    ``auth`` it sends those Basic credentials.
    """

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        extra_args: tuple[str, ...] = (),
        *,
        ca: Path | None = None,
        auth: tuple[str, str] | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.workdir = workdir
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.client_options: dict[str, Any] = {"auth": auth}
        if ca is not None:
            context = ssl.create_default_context(cafile=str(ca))
            if client_cert is not None:
                context.load_cert_chain(*client_cert)
            self.client_options["verify"] = context
        self.config_path = workdir / "archlag.yml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = workdir / "archlag.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> ArchlagProcess:
        args = [
            str(ARCHLAG),
            "-c",
            str(self.config_path),
            "--web.listen-address",
            f"127.0.0.1:{self.port}",
            "--log.level",
            "debug",
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"archlag exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                answer = httpx.get(f"{self.url}/-/healthy", timeout=1, **self.client_options)
                if answer.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"archlag did not become healthy:\n{self.log_tail()}")

    def rewrite_config(self, config: dict[str, Any]) -> None:
        """Write a new configuration file (for a reload)."""
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    def scrape(self) -> Scrape:
        response = httpx.get(f"{self.url}/metrics", timeout=5, **self.client_options)
        response.raise_for_status()
        return Scrape(response.text)

    def wait_for(
        self, condition: Callable[[Scrape], bool], timeout: float = 20.0, what: str = "condition"
    ) -> Scrape:
        """Scrape until ``condition`` holds (bounded), returning the scrape that satisfied it."""
        deadline = time.monotonic() + timeout
        scrape = self.scrape()
        while not condition(scrape):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.log_tail()}")
            time.sleep(0.2)
            scrape = self.scrape()
        return scrape

    def signal(self, sig: int) -> int:
        """Send ``sig`` and wait for the exit status."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ArchlagProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_archlag(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``archlag`` to completion (for commands that exit on their own)."""
    return subprocess.run(
        [str(ARCHLAG), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
