"""The whole chain on loopback, as a user runs it.

The Debian docker-registry holds ``demo/app``; the real ``archlag`` process watches it with
1-second polls and a 5-second ``stall_after``; the real Prometheus scrapes archlag every second
and loads ``alerts/archlag.rules.yml`` unchanged; the real Alertmanager receives its alerts.

Tag 1.0 is published with amd64 only, so ArchlagPlatformLate for linux/arm64 must reach
Alertmanager as the page (with no history of the repository yet its deadline is the 5-second
``stall_after``), beside the informational ArchlagPlatformMissing; then arm64 is published and
both must resolve. In both states every query
of every dashboard panel is evaluated against the same Prometheus, with the dashboard
variables set to this scenario's values.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.dashboards import (
    RULES_PATH,
    Query,
    load_dashboards,
    panel_queries,
    substitute,
    variable_selectors,
)
from tests.support.prometheus import (
    AlertmanagerServer,
    PrometheusServer,
    QueryError,
    started,
    wait_for,
)
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer, free_loopback_port

pytestmark = pytest.mark.integration

ARCHLAG = Path(sys.executable).parent / "archlag"
REPOSITORY = "demo/app"
TAG = "1.0"
PREVIOUS = "0.9"  # published whole before the scenario; it runs on arm64 (discovery)
JOB = "archlag"  # the job name alerts/archlag.rules.yml expects by default
ALERT_TIMEOUT_SECONDS = 40.0  # 1 s polls + 5 s stall_after + 1 s scrapes and evaluations
RESOLVE_TIMEOUT_SECONDS = 30.0

# Queries allowed to show no data once the tag is complete, and why. Those marked True must
# have data while arm64 is still missing, so they are proven to work at least once. "No data"
# includes results whose every value is NaN: Grafana shows those as NaN, not as numbers.
OVERVIEW = "archlag-overview.json"
REPOSITORY_DASHBOARD = "archlag-repository.json"
NO_DATA_WHEN_COMPLETE: dict[tuple[str, str, str], tuple[bool, str]] = {
    (OVERVIEW, "Incomplete tags: missing platforms", "A"): (True, "no platform is missing now"),
    (OVERVIEW, "archlag alerts", "A"): (True, "the alert resolved; nothing else fires"),
    (OVERVIEW, "Regressed platforms", "A"): (False, "no platform vanishes in this scenario"),
    (OVERVIEW, "What you run: is the next release out for your platform?", "C"): (
        True,
        "the arm64 workload waited while arm64 was missing; it has its update now",
    ),
    (REPOSITORY_DASHBOARD, "Missing platforms: when they are late", "A"): (True, "none missing"),
    (REPOSITORY_DASHBOARD, "Missing platforms: when they are late", "B"): (True, "none missing"),
}


@contextmanager
def run_archlag(workdir: Path, registry: RegistryServer) -> Iterator[str]:
    """Start the archlag command on a free loopback port; yield its base URL."""
    if not ARCHLAG.is_file():
        pytest.fail(f"{ARCHLAG} not found: install the project (pip install -e .)")
    workdir.mkdir(parents=True, exist_ok=True)
    # What runs: the previous release on an arm64 host (discovery's files source).
    (workdir / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {registry.host}/{REPOSITORY}:{PREVIOUS}\n"
        "    platform: linux/arm64\n"
    )
    config = {
        "state_file": str(workdir / "archlag.db"),
        "defaults": {"interval": "1s", "settled_interval": "1s", "stall_after": "5s"},
        "registries": {registry.host: {"insecure": True}},
        "watches": [
            {"image": f"{registry.host}/{REPOSITORY}", "platforms": ["linux/amd64", "linux/arm64"]}
        ],
        "discovery": {"interval": "1s", "files": {"paths": [str(workdir / "compose.yaml")]}},
    }
    config_path = workdir / "archlag.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    address = f"127.0.0.1:{free_loopback_port()}"
    log_path = workdir / "archlag.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(ARCHLAG), "-c", str(config_path), "--web.listen-address", address],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def healthy() -> bool:
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    pytest.fail(f"archlag exited with {process.returncode}:\n{tail}")
                try:
                    return httpx.get(f"http://{address}/-/healthy", timeout=1.0).status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(healthy, timeout=20.0, what="archlag's /-/healthy")
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


PAGE, FALLBACK = "ArchlagPlatformLate", "ArchlagPlatformMissing"


def missing_arm64_alerts(
    alertmanager: AlertmanagerServer, registry: str, *names: str
) -> list[dict[str, Any]]:
    return [
        alert
        for alert in alertmanager.alerts()
        if alert["labels"].get("alertname") in names
        and alert["labels"].get("registry") == registry
        and alert["labels"].get("repository") == REPOSITORY
        and alert["labels"].get("tag") == TAG
        and alert["labels"].get("platform") == "linux/arm64"
    ]


def both_alerts(alertmanager: AlertmanagerServer, registry: str) -> dict[str, dict[str, Any]]:
    """The page and the fallback for the missing arm64 by name, once both are there."""
    found = missing_arm64_alerts(alertmanager, registry, PAGE, FALLBACK)
    by_name = {alert["labels"]["alertname"]: alert for alert in found}
    return by_name if len(by_name) == 2 else {}


def dashboard_queries() -> list[Query]:
    found: list[Query] = []
    for name, dashboard in load_dashboards().items():
        found += panel_queries(name, dashboard) + variable_selectors(name, dashboard)
    return found


def evaluate_all(
    prometheus: PrometheusServer, queries: list[Query], values: dict[str, str]
) -> dict[Query, int]:
    """How many series of each query have a number (not NaN); any query error fails the test."""
    counts: dict[Query, int] = {}
    errors = []
    for query in queries:
        try:
            result = prometheus.query(substitute(query.expr, values))
            counts[query] = sum(not math.isnan(float(s["value"][1])) for s in result)
        except QueryError as error:
            errors.append(f"{query.where}: {error}")
    assert not errors, "dashboard queries failed:\n" + "\n".join(errors)
    return counts


def diagnostics(*servers: PrometheusServer | AlertmanagerServer) -> str:
    return "\n".join(f"--- {Path(s.binary).name} log:\n{s.log_tail()}" for s in servers)


def test_missing_arm64_alerts_then_resolves_and_every_panel_answers(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    pusher.publish(REPOSITORY, PREVIOUS, "linux/amd64", "linux/arm64")
    amd64 = pusher.push_image(REPOSITORY, "linux/amd64")
    arm64 = pusher.push_image(REPOSITORY, "linux/arm64")  # by digest only: not in the tag yet
    pusher.push_index(REPOSITORY, TAG, [amd64])

    alertmanager = AlertmanagerServer(tmp_path / "alertmanager")
    with started(alertmanager), run_archlag(tmp_path / "archlag", registry) as archlag_address:
        prometheus = PrometheusServer(
            tmp_path / "prometheus",
            targets={JOB: [archlag_address]},
            rule_files=[RULES_PATH],
            alertmanager_url=alertmanager.url,
        )
        with started(prometheus):
            values = {
                "__rate_interval": "1m",
                "__range": "1h",
                "__interval": "15s",
                "job": JOB,
                "instance": archlag_address,
                # Raw values: their dots match themselves too, and PromQL strings would
                # need doubled backslashes for escaped ones.
                "registry": registry.host,
                "repository": REPOSITORY,
                "tag": TAG,
            }
            queries = dashboard_queries()

            # amd64 only: both alerts reach Alertmanager once stall_after has passed.
            try:
                fired = wait_for(
                    lambda: both_alerts(alertmanager, registry.host),
                    timeout=ALERT_TIMEOUT_SECONDS,
                    what=f"{PAGE} and {FALLBACK} for linux/arm64 in Alertmanager",
                )
            except TimeoutError as error:
                pytest.fail(
                    f"{error}\nPrometheus alerts: {prometheus.alerts()}\n"
                    f"{diagnostics(prometheus, alertmanager)}"
                )
            page, fallback = fired[PAGE], fired[FALLBACK]
            assert (page["labels"]["severity"], fallback["labels"]["severity"]) == (
                "warning",
                "info",
            )
            assert page["labels"]["job"] == JOB
            assert re.fullmatch(
                r"linux/arm64 of demo/app:1\.0 is late, [0-9.]+m?s past its deadline\.",
                page["annotations"]["summary"],
            ), page["annotations"]["summary"]
            assert (
                "archlag has measured no release of it here yet"
                in (page["annotations"]["description"])
            )
            assert page["annotations"]["runbook_url"].endswith("#archlagplatformlate")
            assert re.fullmatch(
                r"linux/arm64 of demo/app:1\.0 still missing [0-9.]+s after the first platform\.",
                fallback["annotations"]["summary"],
            ), fallback["annotations"]["summary"]
            while_missing = evaluate_all(prometheus, queries, values)

            # arm64 published into the same tag: the alert resolves.
            pusher.push_index(REPOSITORY, TAG, [amd64, arm64])
            try:
                wait_for(
                    lambda: not missing_arm64_alerts(alertmanager, registry.host, PAGE, FALLBACK),
                    timeout=RESOLVE_TIMEOUT_SECONDS,
                    what=f"{PAGE} and {FALLBACK} to resolve in Alertmanager",
                )
            except TimeoutError as error:
                pytest.fail(f"{error}\n{diagnostics(prometheus, alertmanager)}")
            # Let a scrape or two of the completed publication reach every series.
            wait_for(
                lambda: prometheus.query(
                    f'archlag_tag_complete{{job="{JOB}", repository="{REPOSITORY}"}} == 1'
                ),
                timeout=10.0,
                what="archlag_tag_complete == 1",
            )
            when_complete = evaluate_all(prometheus, queries, values)

    empty = []
    for query in queries:
        key = (query.dashboard, query.panel, query.ref_id)
        if key in NO_DATA_WHEN_COMPLETE:
            needs_data_while_missing, _reason = NO_DATA_WHEN_COMPLETE[key]
            if needs_data_while_missing and not while_missing[query]:
                empty.append(f"{query.where} (while arm64 was missing)")
        elif not when_complete[query]:
            empty.append(f"{query.where}: {substitute(query.expr, values)}")
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
