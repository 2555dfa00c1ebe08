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

import secrets
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.server_process import ServerProcess, free_loopback_port

__all__ = [
    "DEFAULT_BINARY",
    "RegistryBinaryMissingError",
    "RegistryServer",
    "RegistryServerError",
    "RegistryStartError",
    "free_loopback_port",  # lives in server_process; tests import it from here
    "htpasswd_line",
]

DEFAULT_BINARY = "/usr/bin/docker-registry"


class RegistryServerError(RuntimeError):
    """Base class of the errors raised by :class:`RegistryServer`."""


class RegistryBinaryMissingError(RegistryServerError):
    """The registry binary is not installed."""


class RegistryStartError(RegistryServerError):
    """The registry did not come up; the message ends with the tail of its log."""


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


class RegistryServer(ServerProcess):
    """Run ``docker-registry serve <config>`` on ``127.0.0.1:<port>``.

    ``users`` (name -> password) turns on htpasswd Basic auth with realm ``archlag-test``.
    ``extra_config`` is merged into the top level of the generated config, for sections
    such as ``notifications``. ``start()`` after ``stop()`` brings the registry back on the
    same port with the same data.
    """

    package = "docker-registry"
    binary_missing_error = RegistryBinaryMissingError
    start_error = RegistryStartError
    ready_path = "/v2/"
    ready_request = "GET /v2/"
    stop_timeout = 5.0
    poll_interval = 0.05
    keep_port = True

    def __init__(
        self,
        workdir: Path,
        *,
        users: Mapping[str, str] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        binary: str | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        super().__init__(workdir, log_name="registry.log")
        self.users = dict(users or {})
        self.extra_config = dict(extra_config or {})
        self.binary = binary or shutil.which("docker-registry") or DEFAULT_BINARY
        self.startup_timeout = startup_timeout

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
    def auth(self) -> tuple[str, str] | None:
        """Credentials of the first configured user, or None without auth."""
        return next(iter(self.users.items()), None)

    close = ServerProcess.stop

    def _argv(self) -> list[str]:
        return [self.binary, "serve", str(self.config_path)]

    def _ready_auth(self) -> tuple[str, str] | None:
        return self.auth

    def _name(self) -> str:
        return "docker-registry"

    def _not_ready_message(self, problem: str) -> str:
        return (
            f"docker-registry did not answer 200 on {self.url}/v2/ within"
            f" {self.startup_timeout:g} s ({problem})"
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
