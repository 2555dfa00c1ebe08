"""What a steady archlag costs the registry, counted where the requests arrive: the real
registry behind a counting proxy, the real archlag process. Tags complete at archlag's first look
are settled from the start: at every poll, and after a restart, only the tag list is read."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.archlag_process import ArchlagProcess
from tests.support.listing_proxy import ListingProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

BOTH = ["linux/amd64", "linux/arm64"]
TAGS = ("1.0", "1.1", "1.2")


def counted(proxy: ListingProxy, seconds: float) -> dict[str, int]:
    """What reached the registry in the next ``seconds``."""
    before = dict(proxy.requests)
    time.sleep(seconds)
    return {k: v - before.get(k, 0) for k, v in proxy.requests.items() if v - before.get(k, 0)}


def test_settled_tags_cost_one_tag_list_per_poll_also_after_a_restart(
    registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    for tag in TAGS:
        pusher.publish("demo/app", tag, *BOTH)
    with ListingProxy(registry.url) as proxy:
        config = {
            "state_file": str(tmp_path / "state.db"),
            "defaults": {"interval": "300ms", "platforms": BOTH},  # stall_after: 30m
            "registries": {proxy.host: {"insecure": True}},
            "watches": [{"image": f"{proxy.host}/demo/app"}],
        }
        with ArchlagProcess(tmp_path, config) as archlag:
            archlag.wait_for(
                lambda s: sum(
                    (s.series("archlag_tag_complete", repository="demo/app") or {}).values()
                ) == len(TAGS),
                what="the first look: every tag complete, a baseline",
            )  # fmt: skip
            steady = counted(proxy, 2.0)
            assert archlag.process is not None
            archlag.process.send_signal(signal.SIGTERM)
            assert archlag.process.wait(timeout=15) == 0
        with ArchlagProcess(tmp_path, config):
            restarted = counted(proxy, 3.0)
    assert steady.get("GET tags/list", 0) >= 3, steady
    assert set(steady) == {"GET tags/list"}, "a baseline is settled from the start"
    assert restarted.get("GET tags/list", 0) >= 3, restarted
    assert set(restarted) == {"GET tags/list"}, "a restart reads nothing but the tag lists"
