"""A real Debian ``docker-registry`` (distribution 2.8.2) on a free loopback port.

Each :class:`RegistryServer` owns a working directory holding its config file, its
filesystem storage and a log file with the registry's stdout and stderr. ``stop()`` and
``start()`` let a test take the registry down and bring it back on the same port with
the same data. The process is always killed when the server is closed, when the
``with`` block ends, or at interpreter exit.

Errors:

    RegistryServerError          base class
    ├── RegistryBinaryMissingError   /usr/bin/docker-registry (or the given binary) is absent
    └── RegistryStartError           the process exited or never answered ``GET /v2/``;
                                     the message carries the tail of the log
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx
import yaml

DEFAULT_BINARY = "/usr/bin/docker-registry"
_LOG_TAIL_LINES = 30
_STOP_TIMEOUT_SECONDS = 5.0
_PORT_ATTEMPTS = 3


class RegistryServerError(RuntimeError):
    """Base class of the errors raised by :class:`RegistryServer`."""


class RegistryBinaryMissingError(RegistryServerError):
    """The registry binary is not installed."""


class RegistryStartError(RegistryServerError):
    """The registry did not come up; the message ends with the tail of its log."""


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str:
    """Return one bcrypt htpasswd entry, made by Apache's ``htpasswd`` tool.

    distribution 2.8.2 accepts bcrypt entries only. Debian ships the tool in
    ``apache2-utils``, which ``scripts/test`` installs.
    """
    tool = shutil.which("htpasswd")
    if tool is None:
        raise RegistryBinaryMissingError(
            "htpasswd not found: install the Debian package apache2-utils (scripts/test does)"
        )
    # -C 4 is the lowest bcrypt cost: the registry checks the hash on every request.
    result = subprocess.run(
        [tool, "-n", "-B", "-C", "4", "-b", user, password],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


class RegistryServer:
    """Run ``docker-registry serve <config>`` on ``127.0.0.1:<port>``.

    ``users`` (name -> password) turns on htpasswd Basic auth with realm ``archlag-test``.
    ``extra_config`` is merged into the top level of the generated config, for sections
    such as ``notifications``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        users: Mapping[str, str] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        binary: str | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.workdir = workdir
        self.users = dict(users or {})
        self.extra_config = dict(extra_config or {})
        self.binary = binary or shutil.which("docker-registry") or DEFAULT_BINARY
        self.startup_timeout = startup_timeout
        self.config_path = workdir / "config.yml"
        self.data_dir = workdir / "data"
        self.log_path = workdir / "registry.log"
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as used in image references."""
        if self.port is None:
            raise RegistryServerError("the registry has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the base URL of the API."""
        return f"http://{self.host}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def auth(self) -> tuple[str, str] | None:
        """Credentials of the first configured user, or None without auth."""
        return next(iter(self.users.items()), None)

    def start(self) -> None:
        """Start the registry; after a ``stop()`` it comes back on the same port and data."""
        if self.running:
            return
        if not Path(self.binary).is_file():
            raise RegistryBinaryMissingError(
                f"{self.binary} not found: install the Debian package docker-registry"
                " (scripts/test does)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.port is not None:
            self._launch_and_wait()
            return
        # A fresh port could be taken between probing and binding: try a few.
        for attempt in range(_PORT_ATTEMPTS):
            self.port = free_loopback_port()
            try:
                self._launch_and_wait()
            except RegistryStartError as error:
                if "address already in use" not in str(error) or attempt == _PORT_ATTEMPTS - 1:
                    raise
            else:
                return

    def stop(self) -> None:
        """Stop the registry process (data and port are kept for ``start()``)."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=_STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            atexit.unregister(self.stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    close = stop

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the registry log (stdout and stderr of every run)."""
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

    def _launch_and_wait(self) -> None:
        self._write_config()
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [self.binary, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except RegistryStartError:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_problem = "no answer yet"
        with httpx.Client(auth=self.auth, timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                code = self._process.poll()
                if code is not None:
                    raise RegistryStartError(
                        f"docker-registry exited with status {code}; log tail:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.url}/v2/")
                except httpx.TransportError as error:
                    last_problem = repr(error)
                else:
                    if response.status_code == 200:
                        return
                    last_problem = f"GET /v2/ answered {response.status_code}"
                time.sleep(0.05)
        raise RegistryStartError(
            f"docker-registry did not answer 200 on {self.url}/v2/ within"
            f" {self.startup_timeout:g} s ({last_problem}); log tail:\n{self.log_tail()}"
        )

    def _write_config(self) -> None:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
            },
            # A fixed secret keeps upload state valid across restarts and avoids a warning.
            "http": {"addr": self.host, "secret": self._http_secret()},
        }
        if self.users:
            htpasswd_path = self.workdir / "htpasswd"
            lines = [htpasswd_line(user, password) for user, password in self.users.items()]
            htpasswd_path.write_text("\n".join(lines) + "\n")
            config["auth"] = {"htpasswd": {"realm": "archlag-test", "path": str(htpasswd_path)}}
        config.update(self.extra_config)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _http_secret(self) -> str:
        secret_path = self.workdir / "http-secret"
        if not secret_path.exists():
            secret_path.write_text(secrets.token_hex(16))
        return secret_path.read_text()
