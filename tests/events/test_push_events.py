"""Push-event receivers: each sender's payload, its proof, and what the HTTP answer does.

Payloads are shaped from ../shared/reference/push-events.md (the distribution ones are what the
Debian registry really sends; tests/end_to_end/test_registry_notifications.py has the real thing).
The receiver is run in process, in front of recording pollers, so every test can say what was
scheduled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from archlag.config import Receiver
from archlag.core.snapshots import LiveSnapshot
from archlag.events import Dispatcher, event_routes
from archlag.events.budget import EventBudget
from archlag.events.event_tally import EventTally
from archlag.events.payloads import MalformedPayloadError, PushEvent, parse
from archlag.secrets import Secret
from tests.support.scrape import LiveScrape

SECRET = "r3ceiver-s3cret"
INDEX = "application/vnd.oci.image.index.v1+json"


def distribution(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def dist_event(action: str = "push", tag: str | None = "1.0", media: str = INDEX) -> dict:
    target = {"mediaType": media, "repository": "demo/app", "digest": "sha256:" + "a" * 64}
    if tag:
        target["tag"] = tag
    return {
        "id": "x",
        "timestamp": "2026-12-01T20:44:53.311703436Z",
        "action": action,
        "target": target,
        "request": {"host": "127.0.0.1:5000", "method": "PUT"},
    }


HARBOR = {
    "type": "PUSH_ARTIFACT",
    "occur_at": 1586922308,
    "event_data": {
        "resources": [{"tag": "2.0", "resource_url": "harbor.example.com/team/app:2.0"}],
        "repository": {"repo_full_name": "team/app", "name": "app", "namespace": "team"},
    },
}
HUB = {
    "push_data": {"pushed_at": 1417566161, "pusher": "ci", "tag": "2.6.1"},
    "repository": {"repo_name": "gotify/server", "namespace": "gotify", "name": "server"},
}
QUAY = {
    "repository": "team/app",
    "docker_url": "quay.io/team/app",
    "updated_tags": ["1.0", "latest"],
}
GITHUB = {
    "action": "published",
    "registry_package": {
        "namespace": "Octo-Org",
        "name": "app",
        "package_type": "CONTAINER",
        "package_version": {
            "container_metadata": {"tag": {"name": "3.1", "digest": "sha256:" + "b" * 64}},
            "updated_at": "2026-12-01T10:00:00Z",
        },
    },
}


@pytest.mark.parametrize(
    ("kind", "body", "headers", "events"),
    [
        (
            "distribution",
            distribution(dist_event()),
            {},
            [PushEvent("127.0.0.1:5000", "demo/app", "1.0", 1796157893.311703)],
        ),
        (
            "distribution",
            distribution(dist_event(tag=None)),
            {},
            [PushEvent("127.0.0.1:5000", "demo/app", None, 1796157893.311703)],
        ),
        (
            "harbor",
            json.dumps(HARBOR).encode(),
            {},
            [PushEvent("harbor.example.com", "team/app", "2.0", 1586922308.0)],
        ),
        (
            "dockerhub",
            json.dumps(HUB).encode(),
            {},
            [PushEvent("docker.io", "gotify/server", "2.6.1", 1417566161.0)],
        ),
        (
            "quay",
            json.dumps(QUAY).encode(),
            {},
            [
                PushEvent("quay.io", "team/app", "1.0", None),
                PushEvent("quay.io", "team/app", "latest", None),
            ],
        ),
        (
            "github",
            json.dumps(GITHUB).encode(),
            {"x-github-event": "registry_package"},
            [PushEvent("ghcr.io", "octo-org/app", "3.1", 1796119200.0)],
        ),
        (
            "generic",
            b'{"image": "gotify/server", "tag": "2.6.1", "pushed_at": "2026-12-01T10:00:00Z"}',
            {},
            [PushEvent("docker.io", "gotify/server", "2.6.1", 1796119200.0)],
        ),
    ],
    ids=["distribution", "distribution-digest", "harbor", "dockerhub", "quay", "github", "generic"],
)
def test_each_sender_s_payload(kind, body, headers, events) -> None:
    parsed = parse(kind, body, headers)
    assert list(parsed.events) == events
    assert parsed.ignored == 0


@pytest.mark.parametrize(
    ("kind", "body", "headers"),
    [
        ("distribution", distribution(dist_event(action="pull")), {}),
        ("distribution", distribution(dist_event(media="application/octet-stream")), {}),
        ("distribution", distribution(dist_event(action="delete")), {}),
        ("harbor", json.dumps({**HARBOR, "type": "PULL_ARTIFACT"}).encode(), {}),
        ("github", json.dumps(GITHUB).encode(), {"x-github-event": "ping"}),
        (
            "github",
            json.dumps({**GITHUB, "action": "deleted"}).encode(),
            {"x-github-event": "package"},
        ),
        (
            "distribution",
            distribution(
                {
                    **dist_event(),
                    "target": {"mediaType": INDEX, "repository": "../etc", "tag": "1.0"},
                }
            ),
            {},
        ),
        ("distribution", distribution(dist_event(tag="2.0\n")), {}),
    ],
    ids=[
        "pull",
        "blob",
        "delete",
        "harbor-pull",
        "github-ping",
        "github-deleted",
        "bad-repo",
        "bad-tag",
    ],
)
def test_what_is_not_a_manifest_push_is_ignored(kind, body, headers) -> None:
    parsed = parse(kind, body, headers)
    assert parsed.events == ()
    assert parsed.ignored == 1


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("distribution", b"not json"),
        ("distribution", b"[]"),
        ("distribution", b'{"events": {}}'),
        ("distribution", b"[" * 60_000 + b"]" * 60_000),
        ("dockerhub", b'{"push_data": 1, "repository": {}}'),
        ("generic", b'{"image": "UPPER/case", "tag": "1"}'),
        ("generic", b'{"image": "a/b", "tag": "1", "pushed_at": "yesterday"}'),
        ("generic", b'{"image": "a/b", "tag": "1\\n"}'),
        ("quay", b'{"repository": "a/b"}'),
    ],
)
def test_malformed_payloads_are_one_documented_error(kind, body) -> None:
    with pytest.raises(MalformedPayloadError):
        parse(kind, body, {})


def test_the_event_budget_refills() -> None:
    now = [100.0]
    budget = EventBudget(2, clock=lambda: now[0])
    assert [budget.take() for _ in range(3)] == [True, True, False]
    now[0] += 0.5
    assert budget.take() is True
    assert budget.take() is False


# -- the receiver over HTTP, in front of recording pollers -------------------------------------


@dataclass
class Recorder:
    announced: list[tuple[str | None, float | None, str]] = field(default_factory=list)

    def announce(self, tag: str | None, pushed_at: float | None, receiver: str) -> None:
        self.announced.append((tag, pushed_at, receiver))


def receiver(kind: str, **extra: Any) -> Receiver:
    return Receiver(f"r-{kind}", kind, Secret(SECRET), **extra)


def serve(
    *receivers: Receiver,
) -> tuple[httpx.AsyncClient, dict[tuple[str, str], Recorder], LiveScrape]:
    watches = {
        ("127.0.0.1:5000", "demo/app"): Recorder(),
        ("docker.io", "gotify/server"): Recorder(),
        ("ghcr.io", "octo-org/app"): Recorder(),
        ("quay.io", "team/app"): Recorder(),
        ("harbor.example.com", "team/app"): Recorder(),
    }
    metrics = EventTally(r.name for r in receivers)
    registry = LiveScrape(lambda: LiveSnapshot(receivers=metrics.snapshot()))
    routes = event_routes(lambda: receivers, Dispatcher.of(watches), metrics, clock=lambda: 5.0)
    app = Starlette(routes=routes)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archlag")
    return client, watches, registry


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


PROOFS = {
    "distribution": ("", {"Authorization": f"Bearer {SECRET}"}),
    "harbor": ("", {"Authorization": SECRET}),
    "dockerhub": (f"/{SECRET}", {}),
    "quay": (f"/{SECRET}", {}),
}
BODIES = {
    "distribution": distribution(dist_event()),
    "harbor": json.dumps(HARBOR).encode(),
    "dockerhub": json.dumps(HUB).encode(),
    "quay": json.dumps(QUAY).encode(),
    "github": json.dumps(GITHUB).encode(),
    "generic": b'{"image": "127.0.0.1:5000/demo/app", "tag": "1.0"}',
}


def proof(kind: str, body: bytes) -> tuple[str, dict[str, str]]:
    if kind == "github":
        return "", {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "registry_package"}
    if kind == "generic":
        return "", {"X-Signature": sign(body)}
    return PROOFS[kind]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(BODIES))
async def test_a_proven_event_schedules_a_check(kind) -> None:
    target = receiver(kind)
    client, watches, registry = serve(target)
    body = BODIES[kind]
    suffix, headers = proof(kind, body)
    async with client:
        response = await client.post(
            f"/events/{target.name}{suffix}", content=body, headers=headers
        )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] >= 1
    scheduled = [a for w in watches.values() for a in w.announced]
    assert scheduled
    assert {r for _, _, r in scheduled} == {target.name}
    count = registry.get_sample_value(
        "archlag_events_received_total", {"receiver": target.name, "result": "accepted"}
    )
    assert count == len(scheduled)


def wrong_proofs(kind: str, body: bytes) -> list[tuple[str, dict[str, str]]]:
    if kind in ("dockerhub", "quay"):
        return [("", {}), ("/wrong", {}), (f"/{SECRET}x", {})]
    if kind == "distribution":
        return [("", {}), ("", {"Authorization": SECRET}), ("", {"Authorization": "Bearer x"}),
                (f"/{SECRET}", {"Authorization": f"Bearer {SECRET}"})]  # fmt: skip
    if kind == "harbor":
        return [("", {}), ("", {"Authorization": f"Bearer {SECRET}"})]
    header = "X-Hub-Signature-256" if kind == "github" else "X-Signature"
    extra = {"X-GitHub-Event": "registry_package"} if kind == "github" else {}
    signatures = [sign(body, "other"), sign(body + b" "), "sha256="]
    return [("", extra)] + [("", {header: value, **extra}) for value in signatures]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(BODIES))
async def test_a_wrong_or_missing_proof_is_401_and_changes_nothing(kind) -> None:
    target = receiver(kind)
    client, watches, registry = serve(target)
    body = BODIES[kind]
    attempts = wrong_proofs(kind, body)
    async with client:
        statuses = [
            (await client.post(f"/events/{target.name}{suffix}", content=body, headers=headers))
            for suffix, headers in attempts
        ]
    assert [r.status_code for r in statuses] == [401] * len(attempts)
    assert all(SECRET not in r.text for r in statuses)
    assert not any(w.announced for w in watches.values())
    labels = {"receiver": target.name, "result": "unauthorized"}
    assert registry.get_sample_value("archlag_events_received_total", labels) == len(attempts)
    last = registry.get_sample_value(
        "archlag_event_last_received_timestamp_seconds", {"receiver": target.name}
    )
    assert last is None, "only a proven request counts as received"


@pytest.mark.anyio
async def test_bodies_unknown_repositories_storms_and_unknown_receivers() -> None:
    target = receiver("distribution", events_per_second=3)
    client, watches, registry = serve(target)
    auth = {"Authorization": f"Bearer {SECRET}"}
    other = dist_event()
    other["target"]["repository"] = "someone/else"
    async with client:
        big = await client.post(
            "/events/r-distribution", content=b"{" + b" " * (1 << 20) + b"}", headers=auth
        )
        bad = await client.post("/events/r-distribution", content=b"{", headers=auth)
        unwatched = await client.post(
            "/events/r-distribution", content=distribution(other), headers=auth
        )
        storm = [
            (
                await client.post(
                    "/events/r-distribution", content=BODIES["distribution"], headers=auth
                )
            ).status_code
            for _ in range(10)
        ]
        nobody = await client.post("/events/nobody", content=b"{}")
    assert big.status_code == 413
    assert bad.status_code == 400
    assert unwatched.status_code == 202
    assert unwatched.json() == {"accepted": 0, "ignored": 1}
    assert storm[:3] == [202, 202, 202]
    assert set(storm[3:]) == {429}, "at most 3 accepted events a second"
    assert nobody.status_code == 404
    announced = watches[("127.0.0.1:5000", "demo/app")].announced
    assert len(announced) == 3
    value = registry.get_sample_value
    for result, count in (("malformed", 2), ("ignored", 1), ("rate_limited", 7), ("accepted", 3)):
        assert (
            value("archlag_events_received_total", {"receiver": "r-distribution", "result": result})
            == count
        )


@pytest.mark.anyio
async def test_a_receiver_s_registry_wins_over_the_payload_s() -> None:
    target = receiver("generic", registry="127.0.0.1:5000")
    client, watches, _ = serve(target)
    body = b'{"image": "elsewhere.example/demo/app", "tag": "1.0"}'
    async with client:
        response = await client.post(
            "/events/r-generic", content=body, headers={"X-Signature": sign(body)}
        )
    assert response.json() == {"accepted": 1, "ignored": 0}
    assert watches[("127.0.0.1:5000", "demo/app")].announced == [("1.0", None, "r-generic")]
