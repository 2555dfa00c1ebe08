"""The status page at ``/``: rendered HTML, escaping, and the real page in headless Chromium.

Registries accept only ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`` as tags, the client and the poller
drop anything else, and the config accepts only valid repository names and hosts: no hostile
string can reach the running exporter's page. So escaping is tested where hostile strings *can*
be put: a snapshot built by hand (tag, repository, registry, platform, digest) rendered by
:func:`archlag.web.status_page.render`, read as HTML and then loaded in Chromium, next to a
control that shows the same payload does run when it is not escaped. The live test runs the real
``archlag`` against the real registry and checks the matrix Chromium renders, and saves a
screenshot to ``test-artifacts/status-page.png``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from html.parser import HTMLParser

import httpx
import pytest

from archlag.config import Config, RegistrySettings
from archlag.core.lateness import ExpectedDelay, LatenessRule, LatenessSettings, deadline
from archlag.core.platforms import Platform, parse_platform
from archlag.core.publication import CONFIGURED, Expectation, PlatformState, Publication, TagState
from archlag.core.snapshots import RepositorySnapshot, Snapshot, TagView
from archlag.core.status import WatchStatus
from archlag.metrics import Exposition
from archlag.secrets import Secret
from archlag.web import status_page as landing
from archlag.web.app import Readiness, create_app
from tests.support.archlag_process import ArchlagProcess
from tests.support.chromium import Chromium
from tests.support.paths import ROOT
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.snapshots import repository_snapshot

ARTIFACTS = ROOT / "test-artifacts"
NOW = 1_800_000_000.0
AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE = {
    "registry": "evil.example'><script>document.title='pwned'</script>",
    "repository": '"><svg onload="document.title=\'pwned\'">',
    "tag": PAYLOAD,
    "digest": "sha256:'><b>bold</b>",
    "platform": Platform("<i>os", "arch&amp;"),
}
Cells = dict[str, dict[str, tuple[str, str]]]


class Matrix(HTMLParser):
    """Reads the status page back: per repository, per tag, per platform (class, text)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.repositories: dict[str, Cells] = {}
        self.status: dict[tuple[str, str], str] = {}
        self.notes: dict[tuple[str, str], list[str]] = {}
        self.row_class: dict[tuple[str, str], str] = {}
        self.elements: list[str] = []
        self.links: list[str] = []
        self.title = ""
        self.text: list[str] = []
        self._repo = self._tag = self._cell = ""
        self._cell_class = ""
        self._buffer: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append(tag)
        if tag == "section" and "data-repository" in attributes:
            self._repo = attributes["data-repository"]
            self.repositories[self._repo] = {}
        elif tag == "tr" and "data-tag" in attributes:
            self._tag = attributes["data-tag"]
            self.repositories[self._repo][self._tag] = {}
            self.row_class[(self._repo, self._tag)] = attributes.get("class", "")
        elif tag == "td" and self._tag:
            self._cell = attributes.get("data-platform", "status")
            self._cell_class = attributes.get("class", "")
            self._buffer = []
        elif tag == "small" and self._cell == "status" and self._buffer is not None:
            self._buffer.append("\0")  # the state ends where the first note begins
        elif tag == "a":
            self.links.append(attributes.get("href", ""))
        elif tag == "title":
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._buffer is not None:
            text = " ".join("".join(self._buffer).split())
            if self._cell == "status":
                state, *notes = "".join(self._buffer).split("\0")
                self.status[(self._repo, self._tag)] = " ".join(state.split())
                self.notes[(self._repo, self._tag)] = [" ".join(n.split()) for n in notes]
            else:
                self.repositories[self._repo][self._tag][self._cell] = (self._cell_class, text)
            self._buffer = None
            self._cell = ""
        elif tag == "title" and self._buffer is not None:
            self.title = "".join(self._buffer)
            self._buffer = None
        elif tag == "tr":
            self._tag = ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._buffer is not None:
            self._buffer.append(data)


# -- render() ---------------------------------------------------------------------------------


def view(
    tag: str,
    first_seen: float,
    platforms: dict[Platform, float],
    *expected: Platform,
    gone: tuple[Platform, ...] = (),
    digest: str = "sha256:" + "1" * 64,
    last_absent: dict[Platform, float] | None = None,
    baseline: bool = False,
    error: str = "",
) -> TagView:
    bounds = last_absent or {}
    states = {
        p: PlatformState(digest, at, last_absent=bounds.get(p)) for p, at in platforms.items()
    }
    states |= {p: PlatformState(digest, first_seen, present=False) for p in gone}
    expectation = Expectation(frozenset(expected), CONFIGURED)
    publication = Publication(1, first_seen, states, baseline, False, expectation)
    return TagView(TagState(tag, digest, publication, first_seen), error)


def repository(
    *views: TagView,
    registry: str = "127.0.0.1:5000",
    name: str = "demo/app",
    ok: bool | None = True,
    status: WatchStatus | None = None,
) -> RepositorySnapshot:
    return repository_snapshot(
        *views,
        registry=registry,
        name=name,
        last_poll_success=NOW - 42,
        last_poll_ok=ok,
        poll_errors=0 if ok else 3,
        status=status or WatchStatus("ok" if ok else "unreachable", "", NOW - 42),
    )


def test_matrix_cells_say_present_after_first_missing_for_and_gone() -> None:
    snapshot = Snapshot(
        (
            repository(
                view("2.1", NOW - 300, {AMD: NOW - 300}, AMD, ARM, V7, gone=(V7,)),
                view("2.0", NOW - 7200, {AMD: NOW - 7200, ARM: NOW - 7080}, AMD, ARM),
                view("1.9", NOW - 9000, {AMD: NOW - 9000}, AMD, ARM),
            ),
        )
    )

    page = Matrix(landing.render(snapshot, "1.2.3", now=NOW))

    cells = page.repositories["127.0.0.1:5000/demo/app"]
    assert cells["2.1"] == {
        "linux/amd64": ("present", "present first"),
        "linux/arm/v7": ("regressed", "gone was present, then removed"),
        "linux/arm64": ("missing", "missing for 5m"),
    }
    assert cells["2.0"]["linux/arm64"] == ("present", "present +2m after first")
    assert cells["2.0"]["linux/arm/v7"] == ("absent", "–")
    assert page.row_class[("127.0.0.1:5000/demo/app", "2.0")] == "complete measured"
    assert page.status[("127.0.0.1:5000/demo/app", "2.0")] == "complete"
    assert page.row_class[("127.0.0.1:5000/demo/app", "2.1")] == "incomplete measured"
    assert page.status[("127.0.0.1:5000/demo/app", "2.1")] == "⚠ incomplete"
    assert page.status[("127.0.0.1:5000/demo/app", "1.9")] == "⚠ incomplete, stalled"
    text = " ".join("".join(page.text).split())
    assert "Last successful poll: 2027-01-15 07:59:18 UTC (42s ago)" in text
    assert "3 tags, 2 incomplete" in text
    assert {"/metrics", "/-/config"} <= set(page.links)


def test_failed_poll_and_empty_states_are_shown() -> None:
    failed = repository(registry="ghcr.io", name="o/r", ok=False)
    html = landing.render(Snapshot((failed,)), "1", now=NOW)

    assert "the latest poll failed</span> (3 failed so far)" in html
    assert "No tags yet." in html
    assert "No watches configured." in landing.render(Snapshot(()), "1", now=NOW)


def test_status_history_precision_and_judgement_are_shown() -> None:
    seen = {AMD: NOW - 600, ARM: NOW - 580}
    measured = view("2.0", NOW - 600, seen, AMD, ARM, last_absent={AMD: NOW - 603, ARM: NOW - 585})
    baseline = view("1.0", NOW - 9000, {AMD: NOW - 9000, ARM: NOW - 9000}, AMD, ARM, baseline=True)
    broken = view("0.9", NOW - 9500, {AMD: NOW - 9500}, AMD, error="manifest is not JSON")
    repo = repository(measured, baseline, broken)
    missing = WatchStatus("not_found", "repository not found: it has no tags yet", NOW - 120)
    snapshot = Snapshot((repo, repository(registry="ghcr.io", name="o/new", status=missing)))

    page = Matrix(landing.render(snapshot, "1", now=NOW))

    app = "127.0.0.1:5000/demo/app"
    assert page.repositories[app]["2.0"]["linux/arm64"] == (
        "present",
        "present +20s after first, ±5s",
    ), "the delay with the precision of polled times (the wider of its two ends)"
    assert page.repositories[app]["1.0"]["linux/arm64"] == ("present", "present first")
    assert page.row_class[(app, "1.0")] == "complete baseline"
    assert (
        page.notes[(app, "1.0")][0] == "baseline: complete when archlag first looked, not measured"
    )
    assert page.notes[(app, "2.0")] == ["expects: the configured platforms"]
    assert "latest check failed: manifest is not JSON" in page.notes[(app, "0.9")]
    text = " ".join("".join(page.text).split())
    assert "repository not found for 2m: repository not found: it has no tags yet" in text


def test_missing_platforms_say_when_they_are_expected_and_since_when_they_are_late() -> None:
    usual = ExpectedDelay(typical=18 * 60.0, high=25 * 60.0, observations=12)  # late at +37m30s
    short = ExpectedDelay(typical=60.0, high=60.0, observations=2)  # stall_after, 30m
    rule = LatenessRule(LatenessSettings(), stall_after=1800.0)
    tags = (
        view("2.2", NOW - 300, {AMD: NOW - 300}, AMD, ARM),
        view("2.1", NOW - 3000, {AMD: NOW - 3000}, AMD, ARM),
        view("2.0", NOW - 600, {AMD: NOW - 600, ARM: NOW - 590}, AMD, ARM, V7),
    )
    pending = (
        deadline("2.2", ARM, NOW - 300, usual, rule),
        deadline("2.1", ARM, NOW - 3000, usual, rule),
        deadline("2.0", V7, NOW - 600, short, rule),
    )
    repo = replace(repository(*tags), deadlines=pending)

    page = Matrix(landing.render(Snapshot((repo,)), "1", now=NOW))  # 2027-01-15 08:00 UTC

    app = "127.0.0.1:5000/demo/app"
    cells = page.repositories[app]
    assert cells["2.2"]["linux/arm64"] == (
        "missing",
        "missing for 5m expected by 08:13 UTC (usually +18m, 12 releases); late after 08:32 UTC",
    )
    assert cells["2.1"]["linux/arm64"] == (
        "missing late",
        "missing for 50m late since 07:47 UTC (usually +18m, 12 releases)",
    )
    assert cells["2.0"]["linux/arm/v7"] == (
        "missing",
        "missing for 10m late after 08:20 UTC (stall_after: 2 of 5 releases measured)",
    )
    assert page.status[(app, "2.2")] == "⚠ incomplete"
    assert page.status[(app, "2.1")] == "⚠ incomplete, late"


def hostile_snapshot() -> Snapshot:
    platform = HOSTILE["platform"]
    assert isinstance(platform, Platform)
    tag = view(
        str(HOSTILE["tag"]),
        NOW - 60,
        {platform: NOW - 60},
        platform,
        AMD,
        digest=str(HOSTILE["digest"]),
    )
    return Snapshot(
        (repository(tag, registry=str(HOSTILE["registry"]), name=str(HOSTILE["repository"])),)
    )


def test_every_registry_string_is_escaped() -> None:
    html = landing.render(hostile_snapshot(), "<v>", now=NOW)
    page = Matrix(html)

    for value in HOSTILE.values():
        assert str(value) not in html
    assert set(page.elements) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "small",
        "p",
        "nav",
        "a",
        "strong",
        "time",
        "main",
        "section",
        "h2",
        "table",
        "thead",
        "tr",
        "th",
        "tbody",
        "td",
        "span",
    }
    repo = f"{HOSTILE['registry']}/{HOSTILE['repository']}"
    assert list(page.repositories) == [repo], "attribute values come back unchanged"
    assert list(page.repositories[repo]) == [HOSTILE["tag"]]
    assert page.repositories[repo][str(HOSTILE["tag"])]["<i>os/arch&amp;"][0] == "present"
    assert f"title='{landing.escape(str(HOSTILE['digest']))}'" in html


@pytest.mark.integration
def test_hostile_strings_render_as_text_in_chromium(tmp_path) -> None:
    chromium = Chromium()
    escaped = tmp_path / "escaped.html"
    escaped.write_text(landing.render(hostile_snapshot(), "1", now=NOW), encoding="utf-8")
    control = tmp_path / "control.html"  # shows the payload runs when it is not escaped
    control.write_text(f"<!DOCTYPE html><title>archlag status</title><p>{PAYLOAD}</p>")

    page = Matrix(chromium.dump_dom(escaped.as_uri()))
    assert Matrix(chromium.dump_dom(control.as_uri())).title == "pwned"
    chromium.screenshot(escaped.as_uri(), ARTIFACTS / "status-page-hostile.png", height=500)

    assert page.title == "archlag status", "no injected script or handler ran"
    assert not {"img", "script", "svg", "b", "i"} & set(page.elements)
    repo = f"{HOSTILE['registry']}/{HOSTILE['repository']}"
    assert list(page.repositories[repo]) == [HOSTILE["tag"]]
    assert PAYLOAD in "".join(page.text), "the tag is shown as the text it is"


# -- app --------------------------------------------------------------------------------------


async def get(path: str, config: Config | None = None) -> httpx.Response:
    """GET ``path`` from the ASGI app, in process."""
    snapshot = Snapshot((repository(view("1.0", NOW, {AMD: NOW}, AMD)),))
    exposition = Exposition(lambda: snapshot)
    app = create_app(
        exposition,
        lambda: snapshot,
        Readiness(0, 0),
        "1.0",
        config=(lambda: config) if config else None,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://archlag") as client:
        return await client.get(path)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "meta"),
    [
        ("", None),
        ("?refresh=30", "30"),
        ("?refresh=1", "5"),
        ("?refresh=0", None),
        ("?refresh=999999", "3600"),
    ],
)
async def test_auto_refresh_is_optional_and_bounded(query: str, meta: str | None) -> None:
    response = await get(f"/{query}")

    assert response.status_code == 200
    assert "script-src" not in response.headers["content-security-policy"]
    if meta is None:
        assert "http-equiv='refresh'" not in response.text
        assert "href='/?refresh=30'" in response.text
    else:
        assert f"<meta http-equiv='refresh' content='{meta}'>" in response.text
        assert "Stop auto-refresh" in response.text


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["x", "²", "-5", "1" * 40, "30s", "%00"])
async def test_a_bad_refresh_is_a_400_with_a_reason(value: str) -> None:
    response = await get(f"/?refresh={value}")

    assert response.status_code == 400
    assert response.text == "Bad request: refresh must be a whole number of seconds.\n"


@pytest.mark.anyio
async def test_config_page_shows_settings_with_secrets_redacted() -> None:
    secret = "hunter2-secret-value"
    settings = RegistrySettings("ghcr.io", username="ci", password=Secret(secret))
    config = Config(registries={"ghcr.io": settings})

    text = (await get("/-/config", config)).text
    missing = await get("/-/config")

    assert secret not in text
    assert "username: ci" in text
    assert "password: <secret>" in text
    assert "interval: 1m" in text
    assert missing.status_code == 404


# -- the real exporter in Chromium ------------------------------------------------------------


@pytest.mark.integration
def test_status_page_in_chromium_against_the_real_registry(tmp_path) -> None:
    secret = "s3cret-archlag-status-page"
    chromium = Chromium()
    with (
        RegistryServer(tmp_path / "registry", users={"ci": secret}) as registry,
        Pusher(registry.url, auth=("ci", secret)) as pusher,
    ):
        amd, arm = (pusher.push_image("demo/app", p) for p in ("linux/amd64", "linux/arm64"))
        attestation = pusher.push_attestation("demo/app", amd)
        pusher.push_index("demo/app", "1.0", [amd, arm], attestations=[attestation])
        new_amd = pusher.push_image("demo/app", "linux/amd64", seed="1.1")
        pusher.push_index("demo/app", "1.1", [new_amd])
        tool_tags = {"0.1": ["linux/amd64", "linux/arm64"], "0.2": ["linux/amd64"]}
        for tag, platforms in tool_tags.items():
            pusher.publish("demo/tool", tag, *platforms)
        (tmp_path / "password").write_text(secret)
        config = {
            "state_file": str(tmp_path / "state.db"),
            "defaults": {"interval": "300ms"},
            "registries": {
                registry.host: {
                    "insecure": True,
                    "username": "ci",
                    "password_file": str(tmp_path / "password"),
                }
            },
            "watches": [
                {"image": f"{registry.host}/demo/app", "platforms": ["linux/amd64", "linux/arm64"]},
                {"image": f"{registry.host}/demo/tool"},
            ],
        }
        with ArchlagProcess(tmp_path, config) as archlag:
            wait_ready(archlag.url)
            app, tool = f"{registry.host}/demo/app", f"{registry.host}/demo/tool"

            page = Matrix(chromium.dump_dom(f"{archlag.url}/"))
            assert page.repositories[app]["1.0"] == {
                "linux/amd64": ("present", "present first"),
                "linux/arm64": ("present", "present first"),
            }
            assert page.repositories[app]["1.1"]["linux/arm64"][0] == "missing"
            assert page.row_class[(app, "1.1")] == "incomplete measured"

            time.sleep(1.2)  # so that the late platform arrives whole seconds after the first
            new_arm = pusher.push_image("demo/app", "linux/arm64", seed="1.1")
            pusher.push_index("demo/app", "1.1", [new_amd, new_arm])
            wait_for_text(archlag.url, "after first")

            page = Matrix(chromium.dump_dom(f"{archlag.url}/"))
            shot = chromium.screenshot(f"{archlag.url}/", ARTIFACTS / "status-page.png")
            bodies = [
                httpx.get(f"{archlag.url}{path}").text for path in ("/", "/-/config", "/metrics")
            ]

    late = page.repositories[app]["1.1"]
    assert late["linux/amd64"] == ("present", "present first")
    assert late["linux/arm64"][0] == "present"
    assert late["linux/arm64"][1].startswith("present +")
    assert late["linux/arm64"][1].endswith("s after first")
    assert page.status[(app, "1.1")] == "complete"
    assert page.status[(tool, "0.2")] == "⚠ incomplete", "learned from 0.1: arm64 expected"
    assert page.repositories[tool]["0.2"]["linux/arm64"][1].startswith("missing for ")
    assert all("unknown" not in platform for platform in page.repositories[app]["1.0"])
    text = " ".join("".join(page.text).split())
    assert text.count("Last successful poll: ") == 2
    assert {"/metrics", "/-/config"} <= set(page.links)
    assert shot.stat().st_size > 10_000
    assert all(secret not in body for body in bodies)
    assert f"password_file: {tmp_path / 'password'}" in bodies[1], "the reference, not the value"


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/-/ready").status_code != 200:
        assert time.monotonic() < deadline, "archlag did not become ready"
        time.sleep(0.1)


def wait_for_text(url: str, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in httpx.get(f"{url}/").text:
        assert time.monotonic() < deadline, f"the page never showed {text!r}"
        time.sleep(0.1)
