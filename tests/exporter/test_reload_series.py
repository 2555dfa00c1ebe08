"""What a reload removes leaves /metrics, and what it changes takes effect: the real archlag
process and the real registry, reloaded with SIGHUP."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

BOTH = ["linux/amd64", "linux/arm64"]
UNREACHABLE = "127.0.0.1:9"  # nothing listens on the discard port here


def config(
    registry: RegistryServer, tmp_path: Path, *, second: bool, receiver: bool, interval: str
) -> dict[str, Any]:
    secret = tmp_path / "secret"
    secret.write_text("a-receiver-secret\n")
    watches = [{"image": f"{registry.host}/demo/app", "interval": interval}]
    if second:
        watches.append({"image": f"{UNREACHABLE}/demo/elsewhere", "interval": "300ms"})
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"settled_interval": "1s", "platforms": BOTH},
        "registries": {
            registry.host: {"insecure": True},
            UNREACHABLE: {"insecure": True, "timeout": "1s"},
        },
        "watches": watches,
        "receivers": [
            {"name": "old-hook", "type": "generic", "secret_file": str(secret)}
            for _ in range(int(receiver))
        ],
    }


def requests_of(scrape: Scrape, registry: str) -> dict[frozenset[tuple[str, str]], float]:
    return scrape.series("archlag_registry_requests_total", registry=registry)


def test_a_removed_registry_and_receiver_leave_metrics(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    pusher.push_index("demo/app", "1.0", [pusher.push_image("demo/app", p) for p in BOTH])
    first = config(registry, tmp_path, second=True, receiver=True, interval="300ms")
    with ArchlagProcess(tmp_path, first) as archlag:
        before = archlag.wait_for(
            lambda s: sum(requests_of(s, UNREACHABLE).values()) > 0,
            what="requests to the unreachable registry counted",
        )
        assert before.series("archlag_events_received_total", receiver="old-hook")
        assert before.series("archlag_event_check_delay_seconds_count", receiver="old-hook")
        kept = requests_of(before, registry.host)

        archlag.rewrite_config(config(registry, tmp_path, second=False, receiver=False,
                                      interval="300ms"))  # fmt: skip
        assert archlag.process is not None
        archlag.process.send_signal(signal.SIGHUP)
        after = archlag.wait_for(
            lambda s: not requests_of(s, UNREACHABLE), what="the removed registry gone"
        )
        assert after.series("archlag_events_received_total", receiver="old-hook") == {}
        assert after.series("archlag_event_check_delay_seconds_count", receiver="old-hook") == {}
        assert after.series("archlag_registry_request_duration_seconds_count",
                            registry=UNREACHABLE) == {}  # fmt: skip
        still = requests_of(after, registry.host)
        assert still.keys() == kept.keys(), "the registry still in use keeps its series"
        assert sum(still.values()) >= sum(kept.values()), "its counts go on from where they were"


def test_a_reloaded_interval_takes_effect(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    pusher.push_index("demo/app", "1.0", [pusher.push_image("demo/app", p) for p in BOTH])
    slow = config(registry, tmp_path, second=False, receiver=False, interval="1h")
    with ArchlagProcess(tmp_path, slow) as archlag:
        archlag.wait_for(
            lambda s: s.value("archlag_tag_complete", registry=registry.host,
                              repository="demo/app", tag="1.0") == 1,
            what="the first poll",
        )  # fmt: skip
        archlag.rewrite_config(
            config(registry, tmp_path, second=False, receiver=False, interval="300ms")
        )
        assert archlag.process is not None
        archlag.process.send_signal(signal.SIGHUP)
        archlag.wait_for(
            lambda s: s.value("archlag_watch_poll_interval_seconds", registry=registry.host,
                              repository="demo/app") == 0.3,
            what="the new interval exported",
        )  # fmt: skip
        pusher.push_index("demo/app", "2.0", [pusher.push_image("demo/app", p) for p in BOTH])
        archlag.wait_for(
            lambda s: s.value("archlag_tag_complete", registry=registry.host,
                              repository="demo/app", tag="2.0") == 1,
            timeout=20.0,
            what="a new tag found within seconds, not within the old hour",
        )  # fmt: skip
