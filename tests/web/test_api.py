"""The read API under /api/v1/, and ``archlag check``/``wait`` that use it or a watch's platforms.

Against the real registry and the real ``archlag`` process where the claim is about what a user
gets; in process, with a hand-built snapshot, for strings a registry would never send. Every
answer is validated against the API's JSON Schema (src/archlag/web/api/schema.json).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from archlag.core.platforms import Platform, parse_platform
from archlag.core.publication import CONFIGURED, Expectation, PlatformState, Publication, TagState
from archlag.core.snapshots import RepositorySnapshot, Snapshot, TagView
from archlag.core.status import WatchStatus
from archlag.metrics import Exposition
from archlag.web.app import Readiness, create_app
from tests.support.api_schema import valid
from tests.support.archlag_process import ArchlagProcess, run_archlag
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.snapshots import repository_snapshot

REPO = "demo/app"
BOTH = ["linux/amd64", "linux/arm64"]


def get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, timeout=5)


def config(registry: RegistryServer, tmp_path: Path, **watch: Any) -> dict[str, Any]:
    return {
        "state_file": str(tmp_path / "state.db"),
        "defaults": {"interval": "300ms", "settled_interval": "1s"},
        "registries": {registry.host: {"insecure": True}},
        "watches": [{"image": f"{registry.host}/{REPO}", **watch}],
    }


def publish(pusher: Pusher, tag: str, *platforms: str) -> None:
    pusher.publish(REPO, tag, *platforms)


@pytest.mark.integration
def test_every_endpoint_against_the_real_registry(registry, pusher, tmp_path) -> None:
    publish(pusher, "1.0", *BOTH)
    with ArchlagProcess(tmp_path, config(registry, tmp_path, platforms=BOTH)) as archlag:
        archlag.wait_for(lambda s: s.value("archlag_tag_complete", registry=registry.host,
                         repository=REPO, tag="1.0") == 1)  # fmt: skip
        amd = pusher.push_image(REPO, "linux/amd64", seed="1.1")
        pusher.push_index(REPO, "1.1", [amd])
        archlag.wait_for(lambda s: s.value("archlag_tag_complete", registry=registry.host,
                         repository=REPO, tag="1.1") == 0)  # fmt: skip
        time.sleep(1.0)
        pusher.push_index(REPO, "1.1", [amd, pusher.push_image(REPO, "linux/arm64", seed="1.1")])
        archlag.wait_for(lambda s: s.value("archlag_tag_complete", registry=registry.host,
                         repository=REPO, tag="1.1") == 1)  # fmt: skip
        image = f"{registry.host}/{REPO}"

        watches = valid(get(archlag.url, "/api/v1/watches").json(), "watches")
        tags = valid(get(archlag.url, "/api/v1/tags", image=image).json(), "tags")
        one = valid(get(archlag.url, "/api/v1/tags", image=f"{image}:1.1").json(), "tags")
        arm_only = get(archlag.url, "/api/v1/tags", image=image, platform="linux/arm64").json()
        renovate_raw = valid(get(archlag.url, f"/api/v1/renovate/{image}").json(), "renovate")
        encoded = image.replace(":", "%3A").replace("/", "%2F")
        renovate_encoded = httpx.get(f"{archlag.url}/api/v1/renovate/{encoded}", timeout=5)
        unknown = get(archlag.url, "/api/v1/tags", image=f"{registry.host}/demo/nothing")
        bad_platform = get(archlag.url, "/api/v1/tags", image=image, platform="linux")
        bad_image = get(archlag.url, "/api/v1/renovate/UPPER/Case")

    assert watches["watches"][0] | {"status_since": 0, "last_poll_success": 0} == {
        "image": image,
        "registry": registry.host,
        "repository": REPO,
        "status": "ok",
        "status_message": "",
        "status_since": 0,
        "last_poll_success": 0,
        "interval_seconds": 0.3,
        "stall_after_seconds": 1800.0,
        "platforms": BOTH,
        "tags": 2,
        "incomplete_tags": 0,
        "failing_tags": 0,
    }
    assert tags["unread_tags"] == []
    by_tag = {t["tag"]: t for t in tags["tags"]}
    assert by_tag["1.0"]["baseline"]
    assert not by_tag["1.0"]["measured"]
    late = by_tag["1.1"]
    assert late["measured"]
    assert late["complete"]
    assert late["expected_basis"] == "configured"
    arm = next(p for p in late["platforms"] if p["platform"] == "linux/arm64")
    assert arm["delay_seconds"] >= 1.0
    assert arm["last_absent"] < arm["first_seen"]
    assert arm["uncertainty_seconds"] == pytest.approx(arm["first_seen"] - arm["last_absent"])
    assert late["completed_at"] == arm["first_seen"]
    assert [t["tag"] for t in one["tags"]] == ["1.1"]
    assert arm_only["wanted"] == ["linux/arm64"]
    assert {r["version"] for r in renovate_raw["releases"]} == {"1.0", "1.1"}
    release = next(r for r in renovate_raw["releases"] if r["version"] == "1.1")
    assert release["digest"] == late["digest"]
    assert release["releaseTimestamp"].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
    assert renovate_encoded.json() == renovate_raw, "URL-encoded as Renovate may send it"
    assert (unknown.status_code, valid(unknown.json(), "error")["error"]) == (
        404,
        f"{registry.host}/demo/nothing is not watched by this archlag",
    )
    assert bad_platform.status_code == 400
    assert valid(bad_platform.json(), "error")
    assert bad_image.status_code == 400


def _view(tag: str, platforms: dict[Platform, float], *expected: Platform) -> TagView:
    states = {p: PlatformState("sha256:" + "1" * 64, at) for p, at in platforms.items()}
    start = min(platforms.values())
    publication = Publication(
        1, start, states, expectation=Expectation(frozenset(expected), CONFIGURED)
    )
    return TagView(TagState(tag, "sha256:" + "2" * 64, publication, start))


def _app(*repos: RepositorySnapshot) -> httpx.AsyncClient:
    snapshot = Snapshot(repos)
    app = create_app(Exposition(lambda: snapshot), lambda: snapshot, Readiness(0, 0), "1")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archlag")


def _repository(*views: TagView) -> RepositorySnapshot:
    message = 'a "quoted" \n message </script>'
    return repository_snapshot(
        *views, registry="r.example", name=REPO, status=WatchStatus("ok", message, 1.0)
    )


@pytest.mark.anyio
async def test_strings_are_data_in_every_document() -> None:
    weird = Platform("<os>", 'arch"\n\\')
    tag = "a" * 127 + "_"
    amd = parse_platform("linux/amd64")
    repo = _repository(_view(tag, {amd: 10.0, weird: 20.0}, amd, weird))
    async with _app(repo) as client:
        tags = (await client.get("/api/v1/tags", params={"image": f"r.example/{REPO}"})).json()
        releases = (await client.get(f"/api/v1/renovate/r.example/{REPO}")).json()
        watches = (await client.get("/api/v1/watches")).text
    valid(tags, "tags")
    assert tags["status_message"] == 'a "quoted" \n message </script>', "escaped, not altered"
    assert [p["platform"] for p in tags["tags"][0]["platforms"]] == [
        '<os>/arch"\n\\',
        "linux/amd64",
    ]
    assert releases["releases"][0]["version"] == tag
    assert "\n" not in watches
    assert '\\"quoted\\"' in watches


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/tags", {}, 400),
        ("/api/v1/tags", {"image": "x" * 600}, 400),
        ("/api/v1/tags", {"image": "r.example/demo/app@sha256:abc"}, 400),
        ("/api/v1/tags", {"image": f"r.example/{REPO}", "platform": ["linux/amd64"] * 40}, 400),
        ("/api/v1/tags", {"image": f"r.example/{REPO}", "platform": "unknown/²"}, 400),
        ("/api/v1/tags", {"image": "ghcr.io/not/watched"}, 404),
        ("/api/v1/renovate/ghcr.io/not/watched", {}, 404),
        ("/api/v1/renovate/r.example/demo/app:1.0", {}, 400),
    ],
)
async def test_unusable_requests_get_a_json_reason_never_a_500(path, params, status) -> None:
    async with _app(_repository()) as client:
        response = await client.get(path, params=params)
    assert response.status_code == status
    assert valid(response.json(), "error")["error"]


@pytest.mark.anyio
async def test_renovate_lists_only_tags_with_every_wanted_platform() -> None:
    amd, arm = parse_platform("linux/amd64"), parse_platform("linux/arm64")
    repo = _repository(
        _view("2.0", {amd: 100.0}, amd, arm),  # arm64 missing: not released yet
        _view("1.0", {amd: 10.0, arm: 70.0}, amd, arm),
    )
    async with _app(repo) as client:
        default = (await client.get(f"/api/v1/renovate/r.example/{REPO}")).json()
        amd_only = (
            await client.get(
                f"/api/v1/renovate/r.example/{REPO}", params={"platform": "linux/amd64"}
            )
        ).json()
    assert default == {
        "releases": [
            {
                "version": "1.0",
                "releaseTimestamp": "1970-01-01T00:01:10.000Z",
                "digest": "sha256:" + "2" * 64,
            }
        ]
    }, "released when its last platform (arm64) appeared"
    assert [r["version"] for r in amd_only["releases"]] == ["2.0", "1.0"]
    assert amd_only["releases"][0]["releaseTimestamp"] == "1970-01-01T00:01:40.000Z"


@pytest.mark.integration
def test_check_asks_a_running_archlag_and_uses_a_watch_s_platforms(
    registry, pusher, tmp_path
) -> None:
    publish(pusher, "1.0", *BOTH)
    publish(pusher, "2.0", "linux/amd64")
    settings = config(registry, tmp_path, platforms=BOTH)
    with ArchlagProcess(tmp_path, settings) as archlag:
        archlag.wait_for(lambda s: s.value("archlag_tag_complete", registry=registry.host,
                         repository=REPO, tag="2.0") == 0)  # fmt: skip
        image = f"{registry.host}/{REPO}"
        server = run_archlag("check", f"{image}:1.0", "--server", archlag.url, "-o", "json")
        missing = run_archlag("check", f"{image}:2.0", "--server", archlag.url)
        table = run_archlag("check", f"{image}:1.0", "--server", archlag.url)
        unknown = run_archlag("check", f"{registry.host}/demo/other:1", "--server", archlag.url)
    assert server.returncode == 0, server.stderr
    document = json.loads(server.stdout)
    assert (document["via"], document["expected_from"], document["expected"]) == (
        "server",
        "archlag_server",
        BOTH,
    )
    assert all(p["first_seen"] is not None for p in document["platforms"])
    assert missing.returncode == 1
    assert "1 of 2 wanted platforms missing: linux/arm64" in missing.stderr
    assert "appeared (archlag's first-seen times):" in table.stdout
    assert unknown.returncode == 2
    assert "demo/other is not watched by this archlag" in unknown.stderr
    config_file = tmp_path / "archlag.yml"
    with_config = run_archlag("check", f"{image}:2.0", "-c", str(config_file), "-o", "json")
    assert with_config.returncode == 1, with_config.stderr
    assert json.loads(with_config.stdout)["expected_from"] == "watch_platforms"


@pytest.mark.integration
def test_a_tls_error_against_a_plain_http_registry_names_insecure(registry, pusher) -> None:
    publish(pusher, "1.0", *BOTH)
    result = run_archlag("check", f"{registry.host}/{REPO}:1.0", "-p", "linux/amd64")
    assert result.returncode == 2
    assert "add --insecure" in result.stderr
    assert result.stderr.count("\n") == 1, "one line"


@pytest.mark.anyio
async def test_one_watch_is_looked_up_without_a_snapshot_of_every_watch() -> None:
    amd = parse_platform("linux/amd64")
    repo = _repository(_view("1.0", {amd: 10.0}, amd))
    asked: list[tuple[str, str]] = []

    def whole() -> Snapshot:
        raise AssertionError("the whole snapshot was taken for one watch")

    def one(registry: str, repository: str) -> RepositorySnapshot | None:
        asked.append((registry, repository))
        return repo if (registry, repository) == ("r.example", REPO) else None

    app = create_app(Exposition(whole), whole, Readiness(0, 0), "1", repository=one)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://archlag") as client:
        tags = await client.get("/api/v1/tags", params={"image": f"r.example/{REPO}:1.0"})
        releases = await client.get(f"/api/v1/renovate/r.example/{REPO}")
        unknown = await client.get("/api/v1/tags", params={"image": "r.example/other/app"})
    assert [t["tag"] for t in valid(tags.json(), "tags")["tags"]] == ["1.0"]
    assert [r["version"] for r in releases.json()["releases"]] == ["1.0"]
    assert unknown.status_code == 404
    assert asked == [("r.example", REPO), ("r.example", REPO), ("r.example", "other/app")]
