"""What discovery found running, on the status page ("What you run") and in
``/api/v1/running``: every state, strings from clusters and files escaped, the schema held."""

from __future__ import annotations

import httpx
import pytest

from archlag.core.platforms import parse_platform
from archlag.core.snapshots import RunningImage, RunningStatus, Snapshot
from archlag.metrics import Exposition
from archlag.web import status_page
from archlag.web.app import Readiness, create_app
from tests.support.api_schema import valid

ARM, AMD = parse_platform("linux/arm64"), parse_platform("linux/amd64")
HOSTILE = "<script>alert(1)</script>"


def status(state: str, platform=ARM, **fields) -> RunningStatus:
    image = RunningImage(
        "127.0.0.1:5000", "demo/app", "1.0", None, platform, {"kubernetes": 3, "files": 1}
    )
    return RunningStatus(image, "1.0", state, **fields)


RUNNING = (
    status("waiting", ARM, waiting_for="1.1", waiting_since=1000.0),
    status("available", AMD, newest="1.1"),
    status("unknown", parse_platform("linux/s390x"), reason=HOSTILE),
    status("current", parse_platform("linux/arm/v7")),
)


def test_the_page_says_per_platform_whether_the_release_is_out() -> None:
    page = status_page.render(Snapshot(()), "1", now=1840.0, running=RUNNING)
    assert "<h2>What you run</h2>" in page
    assert "waiting for linux/arm64 for 14m <small>(1.1 lacks it)</small>" in page
    assert "out for you: 1.1" in page
    assert "up to date" in page
    assert "1 (files), 3 (kubernetes)" in page, "containers per source"
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page


def test_without_discovery_the_page_has_no_section() -> None:
    assert "What you run" not in status_page.render(Snapshot(()), "1", running=())


@pytest.mark.anyio
async def test_the_api_lists_every_running_image_per_platform() -> None:
    empty = Snapshot(())
    app = create_app(
        Exposition(lambda: empty), lambda: empty, Readiness(0, 0), "1", running=lambda: RUNNING
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://archlag") as client:
        answer = await client.get("/api/v1/running")
    assert answer.status_code == 200
    document = valid(answer.json(), "running")
    states = {(e["platform"], e["state"]) for e in document["running"]}
    assert states == {
        ("linux/arm64", "waiting"), ("linux/amd64", "available"),
        ("linux/s390x", "unknown"), ("linux/arm/v7", "current"),
    }  # fmt: skip
    waiting = next(e for e in document["running"] if e["state"] == "waiting")
    assert (waiting["waiting_for"], waiting["waiting_since"]) == ("1.1", 1000.0)
    assert waiting["containers"] == {"files": 1, "kubernetes": 3}
