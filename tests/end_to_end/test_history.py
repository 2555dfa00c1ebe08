"""The stories of the trustworthy-measurements issue, replayed with the real archlag process and
the real Debian registry (behind a small proxy where a listing must misbehave), read the way a
user reads them: /metrics, the status page, ``archlag check`` and the exit status.

(Story 4, every observation countable in Prometheus, is tests/end_to_end/test_countable.py.)
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape, run_archlag
from tests.support.listing_proxy import ListingProxy
from tests.support.pusher import Pusher

pytestmark = pytest.mark.integration

REPO = "demo/app"
BOTH = ["linux/amd64", "linux/arm64"]


def make_config(host: str, tmp_path: Path, **watch: object) -> dict:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms", "settled_interval": "1s", "stall_after": "1h"},
        "registries": {host: {"insecure": True}},
        "watches": [{"image": f"{host}/{REPO}", **watch}],
    }


def publish(pusher: Pusher, tag: str, *platforms: str) -> None:
    pusher.publish(REPO, tag, *platforms)


def stagger(archlag: ArchlagProcess, pusher: Pusher, host: str, tag: str, pause: float) -> Scrape:
    """Publish ``tag`` with amd64, wait until archlag has seen it, then add arm64 ``pause``
    seconds later; return the scrape that shows it complete."""
    amd = pusher.push_image(REPO, "linux/amd64", seed=tag)
    pusher.push_index(REPO, tag, [amd])
    archlag.wait_for(lambda s: tag_value(s, host, "archlag_tag_complete", tag) == 0)
    time.sleep(pause)
    arm = pusher.push_image(REPO, "linux/arm64", seed=tag)
    pusher.push_index(REPO, tag, [amd, arm])
    return archlag.wait_for(lambda s: tag_value(s, host, "archlag_tag_complete", tag) == 1)


def tag_value(scrape: Scrape, host: str, name: str, tag: str, **labels: str) -> float | None:
    return scrape.value(name, registry=host, repository=REPO, tag=tag, **labels)


def first_seen(scrape: Scrape, host: str) -> dict[tuple[str, str], float]:
    series = scrape.series(
        "archlag_tag_platform_first_seen_timestamp_seconds", registry=host, repository=REPO
    )
    return {(dict(k)["tag"], dict(k)["platform"]): v for k, v in series.items()}


def spread_count(scrape: Scrape, host: str) -> float | None:
    return scrape.value(
        "archlag_tag_publication_spread_seconds_count", registry=host, repository=REPO
    )


def status(scrape: Scrape, host: str) -> str:
    states = scrape.series("archlag_watch_status", registry=host, repository=REPO)
    return next(dict(k)["status"] for k, v in states.items() if v == 1)


def test_a_later_tag_with_a_new_platform_rewrites_no_older_tag(registry, pusher, tmp_path) -> None:
    publish(pusher, "0.9", *BOTH)
    with ArchlagProcess(tmp_path, make_config(registry.host, tmp_path)) as archlag:
        archlag.wait_for(lambda s: tag_value(s, registry.host, "archlag_tag_complete", "0.9") == 1)
        publish(pusher, "1.0", *BOTH)
        archlag.wait_for(lambda s: spread_count(s, registry.host) == 1, what="1.0 observed")
        publish(pusher, "1.1", *BOTH)
        archlag.wait_for(lambda s: spread_count(s, registry.host) == 2, what="1.1 observed")
        publish(pusher, "2.0", *BOTH, "linux/arm/v7")
        scrape = archlag.wait_for(lambda s: spread_count(s, registry.host) == 3, what="2.0")
        for tag in ("0.9", "1.0", "1.1"):
            assert tag_value(scrape, registry.host, "archlag_tag_complete", tag) == 1, tag
            v7 = tag_value(
                scrape,
                registry.host,
                "archlag_tag_platform_available",
                tag,
                platform="linux/arm/v7",
            )
            assert v7 is None, f"{tag} never expected arm/v7"
        page = httpx.get(f"{archlag.url}/").text
        assert "expects: as tags 1.1, 1.0, 0.9" in page
    result = run_archlag("check", f"{registry.host}/{REPO}:1.0", "--insecure", "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["expected"] == BOTH
    assert report["learned_from"] == ["0.9"], "learned from the tags before it, not after"


def test_a_repository_that_does_not_exist_yet_is_polled_on_and_measured(
    registry, pusher, tmp_path
) -> None:
    config = make_config(registry.host, tmp_path, platforms=BOTH)
    config["watches"].append({"image": f"{registry.host}/demo/other"})
    publish_other = [pusher.push_image("demo/other", p) for p in BOTH]
    pusher.push_index("demo/other", "1.0", publish_other)
    with ArchlagProcess(tmp_path, config) as archlag:
        scrape = archlag.wait_for(lambda s: status(s, registry.host) == "not_found")
        assert scrape.value("archlag_registry_up", registry=registry.host) == 1
        assert "repository not found" in httpx.get(f"{archlag.url}/").text
        amd = pusher.push_image(REPO, "linux/amd64", seed="1.0")
        pusher.push_index(REPO, "1.0", [amd])
        archlag.wait_for(lambda s: status(s, registry.host) == "ok", what="status ok")
        time.sleep(1.0)
        arm = pusher.push_image(REPO, "linux/arm64", seed="1.0")
        pusher.push_index(REPO, "1.0", [amd, arm])
        scrape = archlag.wait_for(lambda s: spread_count(s, registry.host) == 1, what="measured")
        spread = scrape.value(
            "archlag_tag_publication_spread_seconds_sum", registry=registry.host, repository=REPO
        )
        assert spread is not None
        assert spread >= 1.0, "the first release of a new repository is measured, not a baseline"
        assert "watch_recovered" in archlag.log_path.read_text()


def test_odd_listings_erase_nothing(registry, pusher, tmp_path) -> None:
    publish(pusher, "1.0", *BOTH)
    with ListingProxy(registry.url) as proxy:
        config = make_config(proxy.host, tmp_path, platforms=BOTH)
        with ArchlagProcess(tmp_path, config) as archlag:
            archlag.wait_for(lambda s: tag_value(s, proxy.host, "archlag_tag_complete", "1.0") == 1)
            before = stagger(archlag, pusher, proxy.host, "1.1", 0.7)
            assert spread_count(before, proxy.host) == 1
            for mode in ("empty", "truncated", "foreign_link"):
                proxy.next_listings(mode)
                deadline = time.monotonic() + 10
                while proxy.pending and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert proxy.pending == 0, f"archlag never listed through the {mode} answer"
                time.sleep(1.0)  # a few more polls with the real listing
                after = archlag.scrape()
                assert first_seen(after, proxy.host) == first_seen(before, proxy.host), mode
                assert spread_count(after, proxy.host) == 1, f"{mode}: nothing counted twice"
                assert tag_value(after, proxy.host, "archlag_tag_complete", "1.0") == 1, mode
            suspect = after.value(
                "archlag_watch_suspect_listings_total", registry=proxy.host, repository=REPO
            )
            assert suspect == 1, "the empty listing was counted as suspect"
            log = archlag.log_path.read_text()
            assert "event=tags_listing_suspect" in log
            assert "event=tags_list_failed" in log, "the foreign Link failed that poll, loudly"
            assert "another origin" in log or "other.example" in log


def test_every_first_seen_time_carries_its_bound(registry, pusher, tmp_path) -> None:
    publish(pusher, "1.0", *BOTH)
    with ArchlagProcess(tmp_path, make_config(registry.host, tmp_path, platforms=BOTH)) as archlag:
        archlag.wait_for(lambda s: tag_value(s, registry.host, "archlag_tag_complete", "1.0") == 1)
        scrape = stagger(archlag, pusher, registry.host, "2.0", 1.5)
        page = httpx.get(f"{archlag.url}/").text
    bound = "archlag_tag_platform_last_absent_timestamp_seconds"
    seen = first_seen(scrape, registry.host)
    for platform in BOTH:
        absent = tag_value(scrape, registry.host, bound, "2.0", platform=platform)
        assert absent is not None, platform
        assert 0 < seen[("2.0", platform)] - absent < 2.0, "within about one 300ms interval"
    assert tag_value(scrape, registry.host, bound, "1.0", platform="linux/amd64") is None
    assert "after first, ±" in page


def test_one_writer_per_state_file(registry, pusher, tmp_path) -> None:
    publish(pusher, "1.0", *BOTH)
    config = make_config(registry.host, tmp_path, platforms=BOTH)
    with ArchlagProcess(tmp_path, config) as first:
        first.wait_for(lambda s: tag_value(s, registry.host, "archlag_tag_complete", "1.0") == 1)
        second = run_archlag("-c", str(first.config_path), "--web.listen-address", "127.0.0.1:9")
        assert second.returncode == 1
        assert f"state file {tmp_path / 'state.db'} is in use by archlag pid" in second.stderr
        assert first.process is not None
        assert f"pid {first.process.pid} " in second.stderr
        assert first.scrape().value("archlag_state_file_ok") == 1
        os.unlink(tmp_path / "state.db")
        scrape = first.wait_for(lambda s: s.value("archlag_state_file_ok") == 0)
        assert status(scrape, registry.host) in ("ok", "error")
        ready = httpx.get(f"{first.url}/-/ready")
        assert ready.status_code == 503
        assert "was deleted while archlag was running" in ready.text
        first.wait_for(lambda s: status(s, registry.host) == "error", what="polls fail loudly")
        assert "level=error" in first.log_path.read_text()
        assert not (tmp_path / "state.db").exists(), "nothing wrote into a new file"
        assert first.signal(signal.SIGKILL) == -signal.SIGKILL
    restarted = ArchlagProcess(tmp_path, config)  # kill -9 left no lock behind
    with restarted:
        restarted.wait_for(lambda s: s.value("archlag_state_file_ok") == 1)
