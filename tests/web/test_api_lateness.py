"""``/api/v1/tags`` says, per missing platform, when it is expected and whether it is late."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jsonschema
import pytest

from archlag.core.lateness import LatenessSettings
from archlag.core.snapshots import Snapshot
from archlag.metrics import Exposition
from archlag.web.app import Readiness, create_app
from tests.support.lateness import with_history
from tests.support.paths import ROOT

pytestmark = pytest.mark.anyio

SCHEMA = json.loads((ROOT / "src/archlag/web/api/schema.json").read_text(encoding="utf-8"))


async def tags_of(now: float, **params: Any) -> dict[str, Any]:
    repo = with_history(now).snapshot(60.0, 1800.0, lateness=LatenessSettings())
    snapshot = Snapshot((repo,))
    app = create_app(Exposition(lambda: snapshot), lambda: snapshot, Readiness(0, 0), "1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://archlag") as client:
        answer = await client.get("/api/v1/tags", params={"image": "r.example/demo/app", **params})
    document: dict[str, Any] = answer.json()
    jsonschema.validate(document, {"$ref": "#/$defs/tags", **SCHEMA})
    return document


async def test_missing_platforms_carry_expected_by_late_after_and_late() -> None:
    now = time.time()
    document = await tags_of(now)

    tags = {t["tag"]: {p["platform"]: p for p in t["platforms"]} for t in document["tags"]}
    fresh, old = tags["2.2"], tags["2.1"]
    assert fresh["linux/arm64"]["expected_delay"] == {
        "typical_seconds": 18 * 60.0,
        "high_seconds": 25 * 60.0,
        "observations": 12,
    }
    assert fresh["linux/arm64"]["expected_by"] == pytest.approx(now - 60 + 18 * 60)
    assert fresh["linux/arm64"]["late_after"] == pytest.approx(now - 60 + 37.5 * 60)
    assert fresh["linux/arm64"]["late_after_basis"] == "history"
    assert fresh["linux/arm64"]["late"] is False
    assert fresh["linux/arm/v7"]["expected_delay"] is None
    assert fresh["linux/arm/v7"]["expected_by"] is None, "no history: nothing to expect"
    assert fresh["linux/arm/v7"]["late_after"] == pytest.approx(now - 60 + 1800)
    assert fresh["linux/arm/v7"]["late_after_basis"] == "stall_after"
    assert old["linux/arm64"]["late"] is True
    assert old["linux/arm/v7"]["late"] is True
    amd = fresh["linux/amd64"]
    assert (amd["expected_by"], amd["late_after"], amd["late"]) == (None, None, False)
    assert amd["expected_delay"]["observations"] == 12, "present, with its history"


async def test_a_wanted_platform_the_publication_does_not_expect_is_never_late() -> None:
    document = await tags_of(time.time(), platform="linux/s390x")

    s390x = next(p for p in document["tags"][1]["platforms"] if p["platform"] == "linux/s390x")
    assert (s390x["expected"], s390x["late_after"], s390x["late"]) == (False, None, False)
