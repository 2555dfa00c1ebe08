"""Push events from the real Debian docker-registry (its ``notifications``) to the real archlag.

archlag polls only every 10 minutes here, so what it finds within the bounded waits below it can
only have learned from the registry's notifications. The gotify story: amd64 is pushed, arm64 is
added to the tag 20 s later; archlag must record each platform at the registry's own push time
(source ``event``) and observe the spread exactly once. With a wrong token the registry's events
are refused and nothing changes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import running_registry
from tests.support.archlag_process import ArchlagProcess, Scrape, free_port
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

REPO = "gotify/server"
BOTH = ["linux/amd64", "linux/arm64"]
STAGGER_SECONDS = 20.0
DETECTION_TIMEOUT = 10.0  # bounded waits; polling alone would take 10 minutes


def notifications(port: int, token: str) -> dict:
    """The registry's notifications section, as docs/events.md tells users to write it."""
    return {
        "events": {"includereferences": True},
        "endpoints": [
            {
                "name": "archlag",
                "url": f"http://127.0.0.1:{port}/events/local",
                "headers": {"Authorization": [f"Bearer {token}"]},
                "timeout": "1s",
                "threshold": 5,
                "backoff": "1s",
                "ignore": {"mediatypes": ["application/octet-stream"], "actions": ["pull"]},
            }
        ],
    }


@contextmanager
def setup(
    tmp_path: Path, *, sent: str, expected: str
) -> Iterator[tuple[RegistryServer, Pusher, ArchlagProcess]]:
    port = free_port()
    extra = {"notifications": notifications(port, sent)}
    with (
        running_registry(tmp_path / "registry", extra_config=extra) as registry,
        Pusher(registry.url) as pusher,
    ):
        images = [pusher.push_image(REPO, p, seed="2.6.0") for p in BOTH]
        pusher.push_index(REPO, "2.6.0", images)
        (tmp_path / "hook-secret").write_text(expected + "\n")
        config = {
            "state_file": str(tmp_path / "state.db"),
            "defaults": {"interval": "10m", "settled_interval": "10m"},
            "registries": {registry.host: {"insecure": True}},
            "receivers": [
                {
                    "name": "local",
                    "type": "distribution",
                    "registry": registry.host,
                    "secret_file": str(tmp_path / "hook-secret"),
                }
            ],
            "watches": [{"image": f"{registry.host}/{REPO}", "platforms": BOTH}],
        }
        archlag = ArchlagProcess(tmp_path, config)
        archlag.port, archlag.url = port, f"http://127.0.0.1:{port}"
        with archlag:
            archlag.wait_for(lambda s: tag(s, registry, "archlag_tag_complete", "2.6.0") == 1)
            # The registry queued its events for 2.6.0 while archlag was not up yet: let it
            # deliver them, so that what follows is about the pushes the test makes.
            archlag.wait_for(delivered, what="the queued events of 2.6.0")
            yield registry, pusher, archlag


def delivered(scrape: Scrape) -> bool:
    results = ("accepted", "unauthorized")
    return sum(scrape.value("archlag_events_received_total", receiver="local", result=r) or 0
               for r in results) >= 1  # fmt: skip


def tag(
    scrape: Scrape, registry: RegistryServer, name: str, tag: str, **labels: str
) -> float | None:
    return scrape.value(name, registry=registry.host, repository=REPO, tag=tag, **labels)


def seen(scrape: Scrape, registry: RegistryServer, platform: str) -> float | None:
    return tag(
        scrape,
        registry,
        "archlag_tag_platform_first_seen_timestamp_seconds",
        "2.6.1",
        platform=platform,
    )


def test_the_gotify_story_from_registry_notifications(tmp_path) -> None:
    token = "hook-" + secrets.token_hex(12)
    with setup(tmp_path, sent=token, expected=token) as (registry, pusher, archlag):
        before = archlag.scrape()
        amd = pusher.push_image(REPO, "linux/amd64", seed="2.6.1")
        before_amd = time.time()
        pusher.push_index(REPO, "2.6.1", [amd])
        after_amd = time.time()
        archlag.wait_for(
            lambda s: seen(s, registry, "linux/amd64") is not None,
            timeout=DETECTION_TIMEOUT,
            what="amd64 of 2.6.1, from the event",
        )
        time.sleep(STAGGER_SECONDS)
        arm = pusher.push_image(REPO, "linux/arm64", seed="2.6.1")
        before_arm = time.time()
        pusher.push_index(REPO, "2.6.1", [amd, arm])
        after_arm = time.time()
        scrape = archlag.wait_for(
            lambda s: tag(s, registry, "archlag_tag_complete", "2.6.1") == 1,
            timeout=DETECTION_TIMEOUT,
            what="arm64 of 2.6.1, from the event",
        )
        log = archlag.log_path.read_text()

    amd_seen, arm_seen = (
        seen(scrape, registry, "linux/amd64"),
        seen(scrape, registry, "linux/arm64"),
    )
    assert amd_seen is not None
    assert arm_seen is not None
    # The registry's event time lies between the start of the push and its answer.
    assert before_amd - 1 <= amd_seen <= after_amd
    assert before_arm - 1 <= arm_seen <= after_arm
    assert abs((arm_seen - amd_seen) - (before_arm - before_amd)) < 1.0
    for platform in BOTH:
        source = tag(scrape, registry, "archlag_tag_platform_first_seen_source_info", "2.6.1",
                     platform=platform, source="event")  # fmt: skip
        assert source == 1, platform
    spread = {"registry": registry.host, "repository": REPO}

    def grown(name: str, **labels: str) -> float:
        return (scrape.value(name, **labels) or 0) - (before.value(name, **labels) or 0)

    assert grown("archlag_tag_publication_spread_seconds_count", **spread) == 1
    total = grown("archlag_tag_publication_spread_seconds_sum", **spread)
    assert total == pytest.approx(arm_seen - amd_seen)
    assert grown("archlag_events_received_total", receiver="local", result="accepted") >= 2
    checks = grown("archlag_event_check_delay_seconds_count", receiver="local")
    assert checks >= 2, "a check for each index push (a retried delivery may add one)"
    assert scrape.value("archlag_watch_changes_total", **spread, detected_by="event") == 2
    assert scrape.value("archlag_watch_changes_total", **spread, detected_by="poll") == 0
    assert token not in log


def test_a_registry_with_the_wrong_token_changes_nothing(tmp_path) -> None:
    with setup(tmp_path, sent="not-the-secret", expected="the-real-secret") as (
        registry,
        pusher,
        archlag,
    ):
        amd = pusher.push_image(REPO, "linux/amd64", seed="2.6.1")
        pusher.push_index(REPO, "2.6.1", [amd])
        scrape = archlag.wait_for(
            lambda s: (
                (
                    s.value(
                        "archlag_events_received_total", receiver="local", result="unauthorized"
                    )
                    or 0
                )
                >= 1
            ),
            timeout=DETECTION_TIMEOUT,
            what="the registry's event refused",
        )
        time.sleep(1.0)
        scrape = archlag.scrape()
    assert seen(scrape, registry, "linux/amd64") is None, "nothing the sender posted changed state"
    assert scrape.value("archlag_events_received_total", receiver="local", result="accepted") == 0
    assert scrape.value("archlag_event_last_received_timestamp_seconds", receiver="local") is None
