"""Real Prometheus and Alertmanager (Debian packages) on free loopback ports, for tests.

:class:`PrometheusServer` scrapes the given targets every second, evaluates the given rule files
every second and sends alerts to an Alertmanager; :class:`AlertmanagerServer` accepts them with
a receiver that notifies nobody, so tests read alerts from its API. Both are context managers
that start the process, wait (bounded) until ``/-/ready`` answers 200, and kill the process on
exit or at interpreter exit. Each keeps its config, data and log under its own work directory.
In a test, :func:`started` runs one for a ``with`` block and fails the test (never skips it)
when the server cannot start.

Timing on Debian 12 (prometheus 2.42, alertmanager 0.25), measured here: with
``evaluation_interval: 1s`` and ``--rules.alert.resend-delay=1s`` a firing alert is listed by
Alertmanager about a second after the rule first matches, and a resolved one disappears from
``/api/v2/alerts`` as soon as Prometheus sends the resolution.

Errors:

    MonitoringServerError        base class
    ├── BinaryMissingError           the Debian binary is not installed
    ├── StartError                   the process exited or never became ready; the message
    │                                ends with the tail of its log
    └── QueryError                   an API call answered an error (bad PromQL, server error)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.support.server_process import ServerProcess

PROMETHEUS_BINARY = "/usr/bin/prometheus"
ALERTMANAGER_BINARY = "/usr/bin/prometheus-alertmanager"
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class MonitoringServerError(RuntimeError):
    """Base class of the errors raised here."""


class BinaryMissingError(MonitoringServerError):
    """The server binary is not installed."""


class StartError(MonitoringServerError):
    """The server did not come up; the message ends with the tail of its log."""


class QueryError(MonitoringServerError):
    """An API call failed; the message carries the server's error text."""


def wait_for(
    check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.25
) -> T:
    """Call ``check`` until it returns something truthy, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class _Server(ServerProcess):
    """One Prometheus or Alertmanager process: ready once ``/-/ready`` answers 200."""

    binary_missing_error = BinaryMissingError
    start_error = StartError
    ready_path = "/-/ready"
    ready_request = "/-/ready"
    startup_timeout = _START_TIMEOUT_SECONDS
    stop_timeout = _STOP_TIMEOUT_SECONDS
    poll_interval = 0.1

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, log_name="log.txt")

    def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET an API path; raise :class:`QueryError` with the server's message on failure."""
        try:
            response = httpx.get(f"{self.url}{path}", params=params, timeout=10.0)
        except httpx.TransportError as error:
            raise QueryError(f"GET {path}: {error!r}") from error
        if response.status_code != 200:
            raise QueryError(f"GET {path} answered {response.status_code}: {response.text}")
        return response.json()

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False))


class AlertmanagerServer(_Server):
    """Alertmanager with clustering off and a receiver that notifies nobody.

    ``group_wait`` is zero so alerts are grouped and listed at once; tests read them with
    :meth:`alerts`.
    """

    binary = ALERTMANAGER_BINARY
    package = "prometheus-alertmanager"

    def alerts(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        """Alerts from ``/api/v2/alerts``; resolved alerts are never listed there."""
        params = {"active": "true", "silenced": "false", "inhibited": "false"}
        if not active_only:
            params = {}
        result: list[dict[str, Any]] = self.get_json("/api/v2/alerts", params)
        return result

    def _config(self) -> dict[str, Any]:
        return {
            "route": {
                "receiver": "tests",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "tests"}],
        }

    def _argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # empty: no gossip port, no peers
            "--log.level=info",
        ]


class PrometheusServer(_Server):
    """Prometheus scraping ``targets`` ({job: ["host:port", ...]}) every second.

    ``rule_files`` are loaded as they are (absolute paths) and evaluated every second; alerts
    go to ``alertmanager_url`` when given, resent every second while they fire. ``job_options``
    adds settings to a job's scrape config (``scheme``, ``tls_config``, ``basic_auth``).
    """

    binary = PROMETHEUS_BINARY
    package = "prometheus"

    def __init__(
        self,
        workdir: Path,
        *,
        targets: Mapping[str, Sequence[str]],
        rule_files: Sequence[Path] = (),
        alertmanager_url: str | None = None,
        job_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(workdir)
        self.targets = targets
        self.job_options = job_options or {}
        self.rule_files = rule_files
        self.alertmanager_url = alertmanager_url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` now; return the result list (vector samples or one scalar)."""
        body = self.get_json("/api/v1/query", {"query": expr})
        if body.get("status") != "success":
            raise QueryError(f"query {expr!r} failed: {body}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts as Prometheus itself sees them (``/api/v1/alerts``)."""
        alerts: list[dict[str, Any]] = self.get_json("/api/v1/alerts")["data"]["alerts"]
        return alerts

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "static_configs": [{"targets": list(addresses)}],
                    **self.job_options.get(job, {}),
                }
                for job, addresses in self.targets.items()
            ],
        }
        if self.alertmanager_url:
            host = self.alertmanager_url.removeprefix("http://")
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
        return config

    def _argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # The default waits a minute between sends of a firing alert.
            "--rules.alert.resend-delay=1s",
        ]


Server = TypeVar("Server", PrometheusServer, AlertmanagerServer)


@contextmanager
def started(server: Server) -> Iterator[Server]:
    """Run a monitoring server for the block; a server that cannot start fails the test."""
    try:
        server.start()
    except MonitoringServerError as error:
        pytest.fail(str(error), pytrace=False)
    with server:
        yield server
