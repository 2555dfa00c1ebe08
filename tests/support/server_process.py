"""One server process on a free loopback port, for the test servers that run a real binary.

:class:`ServerProcess` starts the binary with its stdout and stderr appended to a log file,
retries on a fresh port when the one it picked was taken meanwhile, waits (bounded) until a
readiness URL answers 200, and stops the process on ``stop()``, when the ``with`` block ends,
or at interpreter exit. Subclasses say what differs: the binary and its Debian package, the
argv and config, the readiness path, the timeouts and the error classes to raise.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

import httpx

_LOG_TAIL_LINES = 30
_PORT_ATTEMPTS = 3


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """A server binary run on ``127.0.0.1:<port>`` with its output in ``log_path``.

    Its config file and data directory are ``config.yml`` and ``data`` in ``workdir``.

    Subclasses set the class attributes below and implement :meth:`_argv` and
    :meth:`_write_config` (called before every launch, once ``port`` is chosen).
    """

    binary: str
    package: ClassVar[str]  # the Debian package that installs ``binary``
    binary_missing_error: ClassVar[type[Exception]]
    start_error: ClassVar[type[Exception]]
    ready_path: ClassVar[str]  # answers 200 once the server is ready
    ready_request: ClassVar[str]  # how start errors name the readiness request
    startup_timeout: float
    stop_timeout: ClassVar[float]
    poll_interval: ClassVar[float]
    keep_port: ClassVar[bool] = False  # True: start() after stop() reuses the port

    def __init__(self, workdir: Path, *, log_name: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / log_name
        self.config_path = workdir / "config.yml"
        self.data_dir = workdir / "data"
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server; does nothing when it is already running."""
        if self.running:
            return
        if not Path(self.binary).is_file():
            raise self.binary_missing_error(
                f"{self.binary} not found: install the Debian package {self.package}"
                " (scripts/test does)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.keep_port and self.port is not None:
            self._launch_and_wait()
            return
        # A free port can be taken between probing and binding: try a few.
        for attempt in range(_PORT_ATTEMPTS):
            self.port = free_loopback_port()
            try:
                self._launch_and_wait()
            except self.start_error as error:
                if "address already in use" not in str(error) or attempt == _PORT_ATTEMPTS - 1:
                    raise
            else:
                return

    def stop(self) -> None:
        """Stop the process (the work directory and its data are kept)."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            atexit.unregister(self.stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the log (stdout and stderr of every run)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _write_config(self) -> None:
        raise NotImplementedError

    def _ready_auth(self) -> tuple[str, str] | None:
        """Credentials for the readiness request, if it needs any."""
        return None

    def _name(self) -> str:
        """The server's name in start errors."""
        return Path(self.binary).name

    def _not_ready_message(self, problem: str) -> str:
        return (
            f"{self._name()} was not ready on {self.url} within {self.startup_timeout:g} s"
            f" ({problem})"
        )

    def _launch_and_wait(self) -> None:
        self._write_config()
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._argv(), stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except self.start_error:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        problem = "no answer yet"
        with httpx.Client(auth=self._ready_auth(), timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                code = self._process.poll()
                if code is not None:
                    raise self.start_error(
                        f"{self._name()} exited with status {code}; log tail:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.url}{self.ready_path}")
                except httpx.TransportError as error:
                    problem = repr(error)
                else:
                    if response.status_code == 200:
                        return
                    problem = f"{self.ready_request} answered {response.status_code}"
                time.sleep(self.poll_interval)
        raise self.start_error(f"{self._not_ready_message(problem)}; log tail:\n{self.log_tail()}")
