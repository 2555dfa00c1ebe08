"""``archlag check``/``wait`` say when each missing platform is expected: from a running archlag
(``--server``: its read API, here the real app in process), or where to ask (the registry)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from archlag.core.lateness import LatenessSettings
from archlag.core.platforms import parse_platform
from archlag.core.references import parse_reference
from archlag.core.snapshots import Snapshot
from archlag.gate import Report, Wanted
from archlag.gate import output as gate_output
from archlag.gate.from_server import ServerLooker
from archlag.metrics import Exposition
from archlag.web.app import Readiness, create_app
from tests.support.lateness import with_history

pytestmark = pytest.mark.anyio

AT = r"(?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC"  # a time of day, dated when not today's
WANTED = frozenset(parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))


async def look(tag: str, now: float) -> Report:
    """What ``archlag check --server`` sees of ``r.example/demo/app:TAG`` (the server judges
    lateness by its own clock: the history is set around ``now``)."""
    snapshot = Snapshot((with_history(now).snapshot(60.0, 1800.0, lateness=LatenessSettings()),))
    app = create_app(Exposition(lambda: snapshot), lambda: snapshot, Readiness(0, 0), "1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as http:
        looker = ServerLooker(http, "http://archlag")
        image = parse_reference(f"r.example/demo/app:{tag}")
        return await looker.look(image, Wanted(WANTED, "x"), None)


def when(text: str) -> str:
    """The table's "when" section on one line, as a reader takes it in (wrapping aside)."""
    section = text[text.index("when (archlag, from this repository's history):") :]
    return " ".join(" ".join(section.splitlines()[1:]).split())


async def test_server_table_says_when_each_missing_platform_is_expected() -> None:
    now = time.time()
    report = await look("2.2", now)

    text = gate_output.table(report, via="server", now=now)

    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert re.fullmatch(
        f"linux/arm/v7 late after {AT} \\(stall_after: 0 releases measured, too few to judge "
        f"by\\) linux/arm64 expected by {AT}, late after {AT} \\(usually \\+18m, 12 releases\\)",
        when(text),
    ), when(text)


async def test_server_table_and_json_say_since_when_a_platform_is_late() -> None:
    now = time.time()
    report = await look("2.1", now)  # began three hours ago

    text = gate_output.table(report, via="server", now=now)
    document = json.loads(gate_output.as_json(report, "check", via="server"))

    assert re.search(f"linux/arm64 LATE since {AT} \\(usually \\+18m, 12 releases\\)", when(text))
    arm64 = next(p for p in document["platforms"] if p["platform"] == "linux/arm64")
    assert arm64["late"] is True
    assert arm64["late_after"] == pytest.approx(now - 3 * 3600 + 37.5 * 60)
    assert arm64["expected_by"] == pytest.approx(now - 3 * 3600 + 18 * 60)
    amd64 = next(p for p in document["platforms"] if p["platform"] == "linux/amd64")
    assert (amd64["late"], amd64["late_after"]) == (None, None), "present: nothing to judge"


async def test_wait_progress_names_the_expectation() -> None:
    now = time.time()
    fresh, old = await look("2.2", now), await look("2.1", now)

    assert re.search(
        f"missing: linux/arm/v7, linux/arm64; linux/arm64 expected by {AT}$",
        gate_output.progress(fresh, 60, now=now),
    )
    assert re.search(f"linux/arm64 late since {AT}$", gate_output.progress(old, 60, now=now))


async def test_from_the_registry_alone_it_says_where_to_ask() -> None:
    report = await look("2.2", time.time())
    registry_report = Report(report.image, report.expectation, report.content)

    text = gate_output.table(registry_report, via="registry", now=time.time())

    assert "when: the registry keeps no history; --server URL asks a running archlag" in text
    assert "expected by" not in text
