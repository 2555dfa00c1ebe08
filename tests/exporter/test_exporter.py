"""The real archlag process against the real Debian docker-registry, as a user would run it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, Scrape, run_archlag

pytestmark = pytest.mark.integration

REPO = "demo/app"
SPREAD = "archlag_tag_publication_spread_seconds"


def make_config(registry, tmp_path: Path, **watch) -> dict:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms", "settled_interval": "1s", "stall_after": "5s"},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/{REPO}", **watch}],
    }


def platforms_of(scrape: Scrape, registry, tag: str) -> dict[str, float]:
    series = scrape.series("archlag_tag_platform_available", registry=registry.host, tag=tag)
    return {dict(labels)["platform"]: value for labels, value in series.items()}


def spread_count(scrape: Scrape, registry) -> float | None:
    return scrape.value(f"{SPREAD}_count", registry=registry.host, repository=REPO)


def test_staggered_release_is_observed_once_with_its_delay(registry, pusher, tmp_path) -> None:
    amd, arm = pusher.push_image(REPO, "linux/amd64"), pusher.push_image(REPO, "linux/arm64")
    pusher.push_index(REPO, "2.6.0", [amd, arm])
    config = make_config(registry, tmp_path, platforms=["linux/amd64", "linux/arm64"])
    with ArchlagProcess(tmp_path, config) as archlag:
        archlag.wait_for(lambda s: platforms_of(s, registry, "2.6.0"), what="baseline tag")
        new_amd = pusher.push_image(REPO, "linux/amd64", seed="2.6.1")
        pusher.push_index(REPO, "2.6.1", [new_amd])
        scrape = archlag.wait_for(
            lambda s: platforms_of(s, registry, "2.6.1") == {"linux/amd64": 1, "linux/arm64": 0},
            what="2.6.1 with amd64 only",
        )
        assert (
            scrape.value(
                "archlag_tag_complete", registry=registry.host, repository=REPO, tag="2.6.1"
            )
            == 0
        )
        time.sleep(3)
        new_arm = pusher.push_image(REPO, "linux/arm64", seed="2.6.1")
        attestation = pusher.push_attestation(REPO, new_amd)
        pusher.push_index(REPO, "2.6.1", [new_amd, new_arm], attestations=[attestation])
        scrape = archlag.wait_for(lambda s: spread_count(s, registry) == 1, what="one spread")
        total = scrape.value(f"{SPREAD}_sum", registry=registry.host, repository=REPO)
        assert total is not None
        # About the 3 s between the pushes: one poll interval early at most, a loaded machine late.
        assert 2.5 < total < 10, f"spread {total} should be about the 3 s between pushes"
        delay = scrape.value(
            "archlag_platform_publication_delay_seconds_sum",
            registry=registry.host,
            repository=REPO,
            platform="linux/arm64",
        )
        assert delay == pytest.approx(total)
        assert platforms_of(scrape, registry, "2.6.1") == {"linux/amd64": 1, "linux/arm64": 1}
        time.sleep(1.5)  # several more polls: nothing is observed twice
        scrape = archlag.scrape()
        assert spread_count(scrape, registry) == 1
        platforms = {dict(labels).get("platform") for (_, labels) in scrape.samples}
        assert platforms == {None, "linux/amd64", "linux/arm64"}, "attestations are not platforms"
        assert scrape.value("archlag_registry_up", registry=registry.host) == 1
        heads = scrape.value(
            "archlag_registry_requests_total", registry=registry.host, method="HEAD", result="ok"
        )
        assert heads is not None
        assert heads > 0


def test_docker_list_single_platform_tag_and_learned_platforms(registry, pusher, tmp_path) -> None:
    amd = pusher.push_image(REPO, "linux/x86_64", docker=True)
    arm = pusher.push_image(REPO, "linux/aarch64", docker=True)
    v7 = pusher.push_image(REPO, "linux/arm", docker=True)
    pusher.push_index(REPO, "1.0", [amd, arm, v7], docker=True)
    single = pusher.push_image(REPO, "linux/amd64", seed="single")
    pusher.tag_manifest(REPO, "1.1-amd64", single)
    with ArchlagProcess(tmp_path, make_config(registry, tmp_path)) as archlag:
        scrape = archlag.wait_for(
            lambda s: platforms_of(s, registry, "1.0") and platforms_of(s, registry, "1.1-amd64"),
            what="both tags",
        )
    assert platforms_of(scrape, registry, "1.0") == {
        "linux/amd64": 1,
        "linux/arm64": 1,
        "linux/arm/v7": 1,
    }, "Docker list read and platforms normalised (x86_64, aarch64, bare arm)"
    assert platforms_of(scrape, registry, "1.1-amd64") == {
        "linux/amd64": 1,
        "linux/arm64": 0,
        "linux/arm/v7": 0,
    }, "single-platform tag read through its config; expected platforms learned from 1.0"


def test_kill_9_and_restart_keep_first_seen_and_histograms(registry, pusher, tmp_path) -> None:
    amd, arm = pusher.push_image(REPO, "linux/amd64"), pusher.push_image(REPO, "linux/arm64")
    pusher.push_index(REPO, "1.0", [amd, arm])
    config = make_config(registry, tmp_path, platforms=["linux/amd64", "linux/arm64"])
    archlag = ArchlagProcess(tmp_path, config).start()
    try:
        archlag.wait_for(lambda s: platforms_of(s, registry, "1.0"), what="baseline")
        pusher.push_index(REPO, "1.1", [pusher.push_image(REPO, "linux/amd64", seed="1.1")])
        archlag.wait_for(lambda s: platforms_of(s, registry, "1.1"), what="1.1 seen")
        time.sleep(1)
        pusher.push_index(
            REPO,
            "1.1",
            [
                pusher.push_image(REPO, "linux/amd64", seed="1.1"),
                pusher.push_image(REPO, "linux/arm64", seed="1.1"),
            ],
        )
        before = archlag.wait_for(lambda s: spread_count(s, registry) == 1, what="completion")
        assert archlag.signal(signal.SIGKILL) == -signal.SIGKILL
        first_seen = before.series("archlag_tag_platform_first_seen_timestamp_seconds")
        archlag.start()
        after = archlag.wait_for(
            lambda s: s.series("archlag_tag_platform_first_seen_timestamp_seconds") == first_seen,
            timeout=5,
            what="first-seen times restored",
        )
        assert spread_count(after, registry) == 1
        time.sleep(1)  # polls after the restart observe nothing again
        assert spread_count(archlag.scrape(), registry) == 1
        assert archlag.signal(signal.SIGTERM) == 0, "SIGTERM shuts down cleanly"
    finally:
        archlag.stop()


def test_registry_down_keeps_state_and_serving(registry, pusher, tmp_path) -> None:
    pusher.push_index(REPO, "1.0", [pusher.push_image(REPO, "linux/amd64")])
    with ArchlagProcess(tmp_path, make_config(registry, tmp_path)) as archlag:
        archlag.wait_for(
            lambda s: s.value("archlag_registry_up", registry=registry.host) == 1,
            what="registry up",
        )
        registry.stop()
        scrape = archlag.wait_for(
            lambda s: s.value("archlag_registry_up", registry=registry.host) == 0,
            what="registry down",
        )
        assert platforms_of(scrape, registry, "1.0") == {"linux/amd64": 1}, "state kept"
        assert httpx.get(f"{archlag.url}/", timeout=5).status_code == 200
        registry.start()
        archlag.wait_for(
            lambda s: s.value("archlag_registry_up", registry=registry.host) == 1,
            what="registry back",
        )


def test_bad_config_exits_2_naming_the_key(tmp_path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("watches:\n  - image: gotify/server\n    stall_after: soon\n")
    result = run_archlag("-c", str(path))
    assert result.returncode == 2
    assert "line 3: watches[0].stall_after" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_state_file_is_refused(tmp_path) -> None:
    state = tmp_path / "state.db"
    state.write_bytes(b"not sqlite at all" * 64)
    path = tmp_path / "cfg.yml"
    path.write_text(f"state_file: {state}\nwatches: [{{image: gotify/server}}]\n")
    result = run_archlag("-c", str(path))
    assert result.returncode == 1
    assert "state file" in result.stderr
    assert state.read_bytes() == b"not sqlite at all" * 64
