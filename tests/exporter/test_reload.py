"""Live reload with the real archlag process and the real registry: SIGHUP and POST /-/reload.

An unchanged watch keeps polling without a gap and loses nothing; a changed one picks up its new
settings; a removed one leaves /metrics and, added again, resumes its history; a configuration
that fails validation is refused whole and the running one keeps going.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.integration

BOTH = ["linux/amd64", "linux/arm64"]


def config(registry: RegistryServer, tmp_path: Path, *watches: dict[str, Any]) -> dict[str, Any]:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms", "settled_interval": "1s", "platforms": BOTH},
        "registries": {registry.host: {"insecure": True}},
        "watches": list(watches),
    }


def watch(registry: RegistryServer, repository: str, **settings: Any) -> dict[str, Any]:
    return {"image": f"{registry.host}/{repository}", **settings}


def staggered(pusher: Pusher, repository: str, tag: str) -> None:
    amd = pusher.push_image(repository, "linux/amd64", seed=tag)
    pusher.push_index(repository, tag, [amd])
    time.sleep(0.8)
    pusher.push_index(
        repository, tag, [amd, pusher.push_image(repository, "linux/arm64", seed=tag)]
    )


def history(scrape: Scrape, registry: RegistryServer, repository: str) -> dict[str, Any]:
    """What must survive a reload: first-seen times, and the spread histogram."""
    labels = {"registry": registry.host, "repository": repository}
    seen = scrape.series("archlag_tag_platform_first_seen_timestamp_seconds", **labels)
    return {
        "first_seen": {tuple(sorted(dict(k).items())): v for k, v in seen.items()},
        "spread": scrape.series("archlag_tag_publication_spread_seconds_bucket", **labels),
        "count": scrape.value("archlag_tag_publication_spread_seconds_count", **labels),
    }


def spread_count(scrape: Scrape, registry: RegistryServer, repository: str) -> float | None:
    return scrape.value(
        "archlag_tag_publication_spread_seconds_count",
        registry=registry.host,
        repository=repository,
    )


def test_sighup_adds_changes_and_removes_watches(registry, pusher, tmp_path) -> None:
    for repository in ("demo/steady", "demo/changed", "demo/removed", "demo/added"):
        pusher.push_index(
            repository, "1.0", [pusher.push_image(repository, p, seed="1") for p in BOTH]
        )
    first = config(
        registry, tmp_path,
        watch(registry, "demo/steady"), watch(registry, "demo/changed"),
        watch(registry, "demo/removed"),
    )  # fmt: skip
    with ArchlagProcess(tmp_path, first) as archlag:
        staggered(pusher, "demo/steady", "1.1")
        staggered(pusher, "demo/removed", "1.1")
        before = archlag.wait_for(
            lambda s: (
                spread_count(s, registry, "demo/steady") == 1
                and spread_count(s, registry, "demo/removed") == 1
            ),
            what="both staggered releases observed",
        )
        steady = history(before, registry, "demo/steady")
        removed = history(before, registry, "demo/removed")
        polls_before = archlag.log_path.read_text().count("repository=demo/steady")

        archlag.rewrite_config(config(
            registry, tmp_path,
            watch(registry, "demo/steady"), watch(registry, "demo/changed", stall_after="7m"),
            watch(registry, "demo/added"),
        ))  # fmt: skip
        assert archlag.process is not None
        archlag.process.send_signal(signal.SIGHUP)
        after = archlag.wait_for(
            lambda s: (
                s.value(
                    "archlag_tag_complete",
                    registry=registry.host,
                    repository="demo/added",
                    tag="1.0",
                )
                == 1
            ),
            what="the added watch polled",
        )
        stall = after.value("archlag_watch_stall_threshold_seconds", registry=registry.host,
                            repository="demo/changed")  # fmt: skip
        time.sleep(1.0)
        after = archlag.scrape()
        polls_after = archlag.log_path.read_text().count("repository=demo/steady")

        assert history(after, registry, "demo/steady") == steady, "untouched by the reload"
        assert polls_after > polls_before, "the unchanged watch kept polling"
        assert stall == 420.0, "the changed watch took its new stall_after"
        gone = after.series(
            "archlag_tag_complete", registry=registry.host, repository="demo/removed"
        )
        assert gone == {}, "the removed watch left /metrics"
        assert after.value("archlag_config_last_reload_successful") == 1
        assert "event=reloaded" in archlag.log_path.read_text()

        archlag.rewrite_config(first)
        archlag.process.send_signal(signal.SIGHUP)
        back = archlag.wait_for(
            lambda s: spread_count(s, registry, "demo/removed") == 1, what="the watch back"
        )
        assert history(back, registry, "demo/removed") == removed, "its history resumed"


def test_a_broken_configuration_is_refused_whole(registry, pusher, tmp_path) -> None:
    pusher.push_index("demo/app", "1.0", [pusher.push_image("demo/app", p) for p in BOTH])
    good = config(registry, tmp_path, watch(registry, "demo/app"))
    with ArchlagProcess(tmp_path, good, ("--web.enable-lifecycle",)) as archlag:
        archlag.wait_for(lambda s: s.value("archlag_tag_complete", registry=registry.host,
                         repository="demo/app", tag="1.0") == 1)  # fmt: skip
        before = archlag.scrape().value("archlag_config_last_reload_success_timestamp_seconds")
        broken = config(registry, tmp_path, watch(registry, "demo/app", interval="soon"))
        broken["watches"].append(watch(registry, "demo/other"))
        archlag.rewrite_config(broken)
        refused = httpx.post(f"{archlag.url}/-/reload", timeout=10)
        scrape = archlag.scrape()
        assert refused.status_code == 500
        assert "watches[0].interval" in refused.text
        assert scrape.value("archlag_config_last_reload_successful") == 0
        assert scrape.value("archlag_config_last_reload_success_timestamp_seconds") == before
        assert scrape.series("archlag_tag_complete", repository="demo/other") == {}, (
            "nothing applied"
        )
        assert "event=reload_failed" in archlag.log_path.read_text()
        assert "watches[0].interval" in archlag.log_path.read_text()
        archlag.rewrite_config(good)
        assert httpx.post(f"{archlag.url}/-/reload", timeout=10).status_code == 200
        assert archlag.scrape().value("archlag_config_last_reload_successful") == 1


def test_the_reload_endpoint_needs_the_lifecycle_flag(registry, tmp_path) -> None:
    with ArchlagProcess(
        tmp_path, config(registry, tmp_path, watch(registry, "demo/app"))
    ) as archlag:
        response = httpx.post(f"{archlag.url}/-/reload", timeout=10)
    assert response.status_code == 403
    assert "--web.enable-lifecycle" in response.text
