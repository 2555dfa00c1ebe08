"""Lateness learned from each repository's history, with the real archlag, the real Debian
registry and real short delays.

Two projects publish three releases each, amd64 first: ``fast/app`` adds arm64 about 2 s later,
``slow/app`` about 8 s later. archlag measures them (a repository that did not exist at its
first poll: everything is measured), keeps what it learned across a restart, and then judges a
fourth release whose arm64 is missing: the fast one is not late at 3 s and late at 10 s, the
slow one not late at 6 s, where the fixed threshold (``stall_after: 5s``) already pages. The
rules are evaluated on archlag's real ``/metrics`` by promtool at those instants
(:mod:`tests.support.rule_replay`); the status page, the API and ``archlag check --server`` say
the same. ``lateness.min_observations`` is 3 here (5 by default) to keep the test short, and
``lateness.min`` 1s (5m by default) so that seconds can be late.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape, run_archlag
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.rule_replay import alerts_at

pytestmark = pytest.mark.integration

FAST, SLOW = "fast/app", "slow/app"
PAUSES = {FAST: 2.2, SLOW: 8.0}  # seconds from amd64 to arm64, as each project builds them
HISTORY = ("1.0", "1.1", "1.2")
NEW = "2.0"
ARM = "linux/arm64"


def make_config(host: str, tmp_path: Path) -> dict[str, Any]:
    lateness = {"min": "1s", "max": "1h", "margin": 1.5, "min_observations": len(HISTORY)}
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {
            "interval": "200ms",
            "settled_interval": "1s",
            "stall_after": "5s",
            "lateness": lateness,
            "platforms": ["linux/amd64", ARM],
        },
        "registries": {host: {"insecure": True}},
        "watches": [{"image": f"{host}/{FAST}"}, {"image": f"{host}/{SLOW}"}],
    }


def value(scrape: Scrape, host: str, repository: str, name: str, **labels: str) -> float | None:
    return scrape.value(name, registry=host, repository=repository, **labels)


def tags_api(archlag: ArchlagProcess, host: str, repository: str, tag: str) -> dict[str, Any]:
    """The API's document of ``tag``, each platform by name."""
    answer = httpx.get(
        f"{archlag.url}/api/v1/tags", params={"image": f"{host}/{repository}:{tag}"}, timeout=5
    )
    answer.raise_for_status()
    (found,) = answer.json()["tags"]
    return {p["platform"]: p for p in found["platforms"]} | {"": found}


def release(archlag: ArchlagProcess, registry: RegistryServer, repository: str) -> None:
    """The project's releases: amd64, seen by archlag, then arm64 after the project's pause.
    The first one, without any history, is judged by stall_after."""
    host = registry.host
    with Pusher(registry.url) as pusher:
        for number, tag in enumerate(HISTORY):
            amd = pusher.push_image(repository, "linux/amd64", seed=tag)
            pusher.push_index(repository, tag, [amd])
            archlag.wait_for(
                lambda s, tag=tag: value(s, host, repository, "archlag_tag_complete", tag=tag) == 0,
                what=f"{repository}:{tag} seen incomplete",
            )
            if number == 0:
                arm64 = tags_api(archlag, host, repository, tag)[ARM]
                first_seen = tags_api(archlag, host, repository, tag)[""]["first_seen"]
                assert arm64["late_after_basis"] == "stall_after", "no history yet"
                assert arm64["late_after"] == pytest.approx(first_seen + 5.0)
            time.sleep(PAUSES[repository])  # the arm64 build
            arm = pusher.push_image(repository, ARM, seed=tag)
            pusher.push_index(repository, tag, [amd, arm])
            archlag.wait_for(
                lambda s, tag=tag: value(s, host, repository, "archlag_tag_complete", tag=tag) == 1,
                what=f"{repository}:{tag} complete",
            )


def both_release(archlag: ArchlagProcess, registry: RegistryServer) -> None:
    """Both projects' releases at once, as two projects would publish them."""
    failures: list[BaseException] = []

    def run(repository: str) -> None:
        try:
            release(archlag, registry, repository)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(r,)) for r in (FAST, SLOW)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a release loop did not finish"
    if failures:
        raise failures[0]


def expected(scrape: Scrape, host: str, repository: str) -> tuple[float | None, ...]:
    """arm64's expectation: p50, p95 and the releases they rest on."""
    return (
        value(scrape, host, repository, "archlag_platform_expected_delay_seconds",
              platform=ARM, percentile="50"),
        value(scrape, host, repository, "archlag_platform_expected_delay_seconds",
              platform=ARM, percentile="95"),
        value(scrape, host, repository, "archlag_platform_expected_delay_observations",
              platform=ARM),
    )  # fmt: skip


def page(alertname: str, severity: str, host: str, repository: str) -> dict[str, str]:
    return {
        "alertname": alertname,
        "severity": severity,
        "registry": host,
        "repository": repository,
        "tag": NEW,
        "platform": ARM,
    }


def test_each_project_is_late_by_its_own_history(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    host = registry.host
    archlag = ArchlagProcess(tmp_path, make_config(host, tmp_path))
    with archlag:
        archlag.wait_for(
            lambda s: value(s, host, FAST, "archlag_watch_status", status="not_found") == 1,
            what="the empty repositories polled",
        )
        both_release(archlag, registry)
        learned = archlag.wait_for(
            lambda s: all(expected(s, host, r)[2] == len(HISTORY) for r in (FAST, SLOW)),
            what="three measured releases of each",
        )
    fast_before, slow_before = expected(learned, host, FAST), expected(learned, host, SLOW)
    assert PAUSES[FAST] <= fast_before[0] <= fast_before[1] < PAUSES[SLOW], fast_before
    assert PAUSES[SLOW] <= slow_before[0] <= slow_before[1], slow_before

    with archlag:  # restarted on the same state file: what it learned is still there
        restored = archlag.wait_for(lambda s: expected(s, host, FAST)[2] is not None)
        assert expected(restored, host, FAST) == fast_before
        assert expected(restored, host, SLOW) == slow_before

        amd = {r: pusher.push_image(r, "linux/amd64", seed=NEW) for r in (FAST, SLOW)}
        for repository in (FAST, SLOW):
            pusher.push_index(repository, NEW, [amd[repository]])
        late_after = "archlag_tag_platform_late_after_timestamp_seconds"
        scrape = archlag.wait_for(
            lambda s: all(
                value(s, host, r, late_after, tag=NEW, platform=ARM) for r in (FAST, SLOW)
            ),
            what=f"deadlines of {NEW}'s arm64",
        )
        first_seen = "archlag_tag_first_seen_timestamp_seconds"
        for repository in (FAST, SLOW):
            began = value(scrape, host, repository, first_seen, tag=NEW)
            deadline = value(scrape, host, repository, late_after, tag=NEW, platform=ARM)
            assert began is not None
            assert deadline is not None
            p95 = expected(scrape, host, repository)[1]
            assert p95 is not None
            assert deadline == pytest.approx(began + p95 * 1.5)

            # What Prometheus pages at those instants, from this very /metrics.
            keep = {"repository": repository}
            fixed = page("ArchlagPlatformMissing", "info", host, repository)  # stall_after 5s
            if repository == FAST:
                late = page("ArchlagPlatformLate", "warning", host, FAST)
                cases = {3.0: [], 10.0: [late, fixed]}
            else:
                cases = {6.0: [fixed]}  # the fixed threshold pages; the learned one does not
            replayed = alerts_at(tmp_path, scrape, began, keep, cases)
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr

        # Then, for real: the fast project's arm64 becomes late, and every place says so.
        archlag.wait_for(
            lambda s: value(s, host, FAST, "archlag_tag_platform_late", tag=NEW, platform=ARM) == 1,
            timeout=30.0,
            what="fast/app's arm64 late",
        )
        assert tags_api(archlag, host, FAST, NEW)[ARM]["late"] is True
        slow_arm64 = tags_api(archlag, host, SLOW, NEW)[ARM]
        assert slow_arm64["late_after_basis"] == "history"
        assert slow_arm64["expected_delay"]["observations"] == len(HISTORY)
        status_page = httpx.get(f"{archlag.url}/", timeout=5).text
        assert "late since" in status_page
        assert "usually +" in status_page
        checked = run_archlag("check", f"{host}/{FAST}:{NEW}", "--server", archlag.url)
        assert checked.returncode == 1, checked.stderr
        assert "LATE since" in checked.stdout
        assert "releases)" in checked.stdout

        # arm64 arrives: its deadline leaves /metrics, so the page resolves.
        arm = pusher.push_image(FAST, ARM, seed=NEW)
        pusher.push_index(FAST, NEW, [amd[FAST], arm])
        archlag.wait_for(
            lambda s: value(s, host, FAST, late_after, tag=NEW, platform=ARM) is None,
            what="fast/app's deadline gone once arm64 is out",
        )
