"""Rate limits: header parsing, the registry-wide back-off after 429, pacing, quota counting."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import selectors
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest

from archlag.registry import (
    ClientStatus,
    NotFoundError,
    RateLimitedError,
    RateLimitStatus,
    RegistryClient,
    RetryPolicy,
)
from archlag.registry.ratelimit import Backoff, parse_rate_limit, requested_wait
from tests.support.manifests import manifest_ok
from tests.support.mock_registry import hub_client

pytestmark = pytest.mark.anyio

WALL = 1_800_000_000.0  # the simulated wall clock at the start of every test
HUB_HEADERS = {
    "ratelimit-limit": "100;w=21600",
    "ratelimit-remaining": "76;w=21600",
    "docker-ratelimit-source": "192.0.2.1",
}


def http_date(unix: float) -> str:
    return format_datetime(datetime.fromtimestamp(unix, UTC), usegmt=True)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps ahead whenever every task waits for a timer, so hours of
    waiting take no real time while concurrent tasks interleave exactly as they would."""

    def __init__(self) -> None:
        self.virtual_now = 1000.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.virtual_now


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            return super().select(None)
        self._loop.virtual_now += timeout  # nothing to do until the next timer: jump there
        return []


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "asyncio", {"loop_factory": VirtualTimeLoop}


class VirtualTime:
    """The virtual loop's clock for the client, a matching wall clock, and a record of sleeps."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.start = anyio.current_time()

    @property
    def now(self) -> float:
        """Seconds since the test began."""
        return anyio.current_time() - self.start

    def clock(self) -> float:
        return anyio.current_time()

    def wall(self) -> float:
        return WALL + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.sleep(seconds)


class Registry:
    """A registry that answers each request through ``respond`` and records when it arrived."""

    def __init__(self, time: VirtualTime, respond: Callable[[httpx.Request], httpx.Response]):
        self.time = time
        self.respond = respond
        self.requests: list[tuple[float, str, str]] = []  # (time, method, path)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((self.time.now, request.method, request.url.path))
        return self.respond(request)

    def client(self, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("retry", RetryPolicy(jitter=0))
        return hub_client(
            self, sleep=self.time.sleep, clock=self.time.clock, wall_clock=self.time.wall, **kwargs
        )


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(HUB_HEADERS, (100, 76, 21600.0, "192.0.2.1", None), id="docker-hub"),
        pytest.param(
            {"ratelimit-limit": "100", "ratelimit-remaining": "0"},
            (100, 0, None, None, None),
            id="no-window",
        ),
        pytest.param(
            {"ratelimit-limit": " 200 ; w = 3600 ", "ratelimit-remaining": " 7;w=3600"},
            (200, 7, 3600.0, None, None),
            id="spaces",
        ),
        pytest.param(
            {"ratelimit-limit": "100;w=abc", "ratelimit-remaining": "76;w=21600"},
            (100, 76, 21600.0, None, None),
            id="garbage-window-taken-from-remaining",
        ),
        pytest.param(
            {"ratelimit-limit": "100;w=0", "ratelimit-remaining": "76;w=0"},
            (100, 76, None, None, None),
            id="zero-window",
        ),
        pytest.param(
            {"ratelimit-limit": "100;w=21600, 1000;w=86400", "ratelimit-remaining": "76"},
            (100, 76, 21600.0, None, None),
            id="several-policies-first-wins",
        ),
        pytest.param(
            {
                "ratelimit-limit": "100;w=21600",
                "ratelimit-remaining": "76;w=21600",
                "docker-ratelimit-source": "bad\x00source",
            },
            (100, 76, 21600.0, None, None),
            id="unprintable-source-dropped",
        ),
        pytest.param(
            {"x-ratelimit-limit": "180", "x-ratelimit-remaining": "179", "x-ratelimit-reset": "1"},
            (180, 179, None, None, 1.0),
            id="hub-api",
        ),
        pytest.param(
            {"x-ratelimit-limit": "180", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"},
            (180, 0, None, None, None),
            id="hub-api-garbage-reset",
        ),
        pytest.param({}, None, id="none"),
        pytest.param({"ratelimit-limit": "100;w=21600"}, None, id="limit-only"),
        pytest.param({"ratelimit-limit": "abc", "ratelimit-remaining": "76"}, None, id="text"),
        pytest.param({"ratelimit-limit": "-1", "ratelimit-remaining": "5"}, None, id="negative"),
        pytest.param({"ratelimit-limit": "1.5", "ratelimit-remaining": "1"}, None, id="fraction"),
        pytest.param(
            {"ratelimit-limit": "9" * 40, "ratelimit-remaining": "5"}, None, id="absurdly-large"
        ),
        pytest.param({"ratelimit-limit": "", "ratelimit-remaining": ""}, None, id="empty"),
    ],
)
def test_parse_rate_limit(
    headers: dict[str, str], expected: tuple[int, int, float | None, str | None, float | None]
) -> None:
    found = parse_rate_limit(httpx.Headers(headers), 123.0)
    if expected is None:
        assert found is None
    else:
        assert found == RateLimitStatus(*expected[:4], observed_at=123.0, reset_at=expected[4])


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "120"}, 120.0, id="seconds"),
        pytest.param({"Retry-After": "0"}, 0.0, id="zero-seconds"),
        pytest.param({"Retry-After": "1.5"}, 1.5, id="fraction"),
        pytest.param({"Retry-After": http_date(NOW + 90)}, 90.0, id="http-date"),
        pytest.param(
            {"Retry-After": http_date(NOW + 5000 + 90), "Date": http_date(NOW + 5000)},
            90.0,
            id="http-date-relative-to-skewed-server-date",
        ),
        pytest.param({"X-Retry-After": str(int(NOW + 45))}, 45.0, id="x-retry-after-unix"),
        pytest.param(
            {"X-Retry-After": str(int(NOW + 45)), "Retry-After": "7"}, 7.0, id="retry-after-wins"
        ),
        pytest.param({"Retry-After": "1746032400"}, 1746032400.0, id="huge-is-clamped-later"),
        pytest.param({"Retry-After": http_date(NOW - 60)}, None, id="past-date"),
        pytest.param({"X-Retry-After": str(int(NOW - 60))}, None, id="past-unix-time"),
        pytest.param({"Retry-After": "-10"}, None, id="negative"),
        pytest.param({"Retry-After": "NaN"}, None, id="nan"),
        pytest.param({"Retry-After": "inf"}, None, id="inf"),
        pytest.param({"Retry-After": "485009h"}, None, id="with-unit"),
        pytest.param({"Retry-After": "9" * 400}, None, id="overflowing-digits"),
        pytest.param({"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}, None, id="year-99999"),
        pytest.param({"X-Retry-After": "tomorrow"}, None, id="x-retry-after-text"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_requested_wait(headers: dict[str, str], expected: float | None) -> None:
    assert requested_wait(httpx.Headers(headers), NOW) == expected


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (120.0, 120.0),
        (1e12, 600.0),
        (float("inf"), 0.5),  # unusable: exponential instead
        (float("nan"), 0.5),
        (-3.0, 0.5),
        (None, 0.5),
    ],
)
def test_backoff_is_clamped_and_ignores_nonsense(asked: float | None, expected: float) -> None:
    backoff = Backoff(lambda: 0.0, max_backoff=600, initial_wait=0.5, jitter=0)
    assert backoff.throttled(asked) == expected
    assert backoff.remaining() == expected


def test_backoff_without_a_usable_header_doubles_up_to_the_cap() -> None:
    backoff = Backoff(lambda: 0.0, max_backoff=10, initial_wait=1, jitter=0)
    waits = []
    for _ in range(200):  # 2**200 must neither overflow nor exceed the cap
        waits.append(backoff.throttled(None))
    assert waits[:6] == [1, 2, 4, 8, 10, 10]
    assert max(waits) == 10
    backoff.succeeded()
    later = Backoff(lambda: 100.0, max_backoff=10, initial_wait=1, jitter=0)
    assert later.throttled(None) == 1


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_max_backoff_must_be_positive_and_finite(value: float) -> None:
    with pytest.raises(ValueError, match="max_backoff"):
        Backoff(lambda: 0.0, max_backoff=value, initial_wait=1, jitter=0)


# -- the client: status, quota ------------------------------------------------------------------


async def test_status_keeps_the_latest_readable_rate_limit_and_counts_quota_gets() -> None:
    time = VirtualTime()
    answers = iter(
        [
            manifest_ok(**HUB_HEADERS),  # HEAD: figures, no quota
            manifest_ok(**(HUB_HEADERS | {"ratelimit-remaining": "75;w=21600"})),  # GET
            manifest_ok(**{"ratelimit-limit": "lots", "ratelimit-remaining": "??"}),  # garbage
            httpx.Response(404),  # GET of a missing tag: not served, not counted
            httpx.Response(200, content=b"{}"),  # blob GET: not a pull
        ]
    )
    registry = Registry(time, lambda request: next(answers))
    async with registry.client() as client:
        assert client.status() == ClientStatus(None, None, 0)
        await client.head_manifest("library/nginx", "latest")
        assert client.status().quota_requests == 0
        await anyio.sleep(10)
        await client.get_manifest("library/nginx", "latest")
        await client.get_manifest("library/nginx", "latest")
        with pytest.raises(NotFoundError, match="HTTP 404"):
            await client.get_manifest("library/nginx", "nope")
        blob = "sha256:" + hashlib.sha256(b"{}").hexdigest()
        await client.get_blob("library/nginx", blob)
        status = client.status()
    assert status.rate_limit == RateLimitStatus(100, 75, 21600.0, "192.0.2.1", WALL + 10)
    assert status.quota_requests == 2
    assert status.backoff_until is None


# -- the client: 429 and the registry-wide back-off -----------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Retry-After": "120"}, id="retry-after-seconds"),
        pytest.param(
            {"Retry-After": http_date(WALL + 120), "Date": http_date(WALL)},
            id="retry-after-http-date",
        ),
        pytest.param({"X-Retry-After": str(int(WALL + 120))}, id="x-retry-after-unix-time"),
    ],
)
async def test_429_backs_off_the_whole_registry_and_sends_nothing_meanwhile(
    headers: dict[str, str],
) -> None:
    time = VirtualTime()
    throttled = {"value": True}

    def respond(request: httpx.Request) -> httpx.Response:
        if throttled["value"]:
            throttled["value"] = False
            return httpx.Response(
                429, headers=headers, json={"errors": [{"code": "TOOMANYREQUESTS"}]}
            )
        return manifest_ok()

    registry = Registry(time, respond)
    async with registry.client() as client:
        with pytest.raises(RateLimitedError) as first:
            await client.get_manifest("library/nginx", "latest")
        assert first.value.retry_after == 120.0
        assert "TOOMANYREQUESTS" in str(first.value)
        assert client.status().backoff_until == WALL + 120

        await anyio.sleep(30)  # another watch of the same registry, another repository
        with pytest.raises(RateLimitedError, match="nothing sent") as second:
            await client.head_manifest("library/alpine", "3.20")
        assert second.value.retry_after == 90.0
        assert second.value.result == "rate_limited"
        assert len(registry.requests) == 1  # the second request was never sent

        await anyio.sleep(91)
        assert client.status().backoff_until is None
        await client.get_manifest("library/alpine", "3.20")
    assert [r[1:] for r in registry.requests] == [
        ("GET", "/v2/library/nginx/manifests/latest"),
        ("GET", "/v2/library/alpine/manifests/3.20"),
    ]
    assert time.sleeps == []


async def test_short_back_off_is_waited_out_by_every_request() -> None:
    time = VirtualTime()
    answers = iter([httpx.Response(429, headers={"Retry-After": "5"})])

    def respond(request: httpx.Request) -> httpx.Response:
        return next(answers, manifest_ok())

    registry = Registry(time, respond)

    async def main() -> None:
        async with registry.client() as client, anyio.create_task_group() as group:
            group.start_soon(client.get_manifest, "library/nginx", "latest")
            await time.sleep(2)
            group.start_soon(client.head_manifest, "library/alpine", "3.20")

    await main()
    assert [(t, method) for t, method, _ in registry.requests] == [
        (0.0, "GET"),  # 429
        (5.0, "GET"),  # the retry, after the back-off
        (5.0, "HEAD"),  # arrived at 2 s, waited until the back-off ended
    ]


async def test_absurd_retry_after_is_clamped_to_max_backoff() -> None:
    time = VirtualTime()
    # A unix time where seconds belong: taken literally, 485009 hours.
    registry = Registry(time, lambda r: httpx.Response(429, headers={"Retry-After": "1746032400"}))
    async with registry.client(max_backoff=600) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_manifest("library/nginx", "latest")
        assert info.value.retry_after == 600.0
        assert client.status().backoff_until == WALL + 600
        await anyio.sleep(601)
        with pytest.raises(RateLimitedError):
            await client.get_manifest("library/nginx", "latest")
    assert len(registry.requests) == 2  # the registry is asked again after the capped pause


async def test_429_without_retry_header_backs_off_exponentially_and_recovers() -> None:
    time = VirtualTime()
    answers = iter([httpx.Response(429), httpx.Response(429), httpx.Response(429)])
    registry = Registry(time, lambda request: next(answers, manifest_ok()))
    async with registry.client() as client:
        await client.get_manifest("library/nginx", "latest")
        assert client.status().backoff_until is None
    assert time.sleeps == [0.5, 1.0, 2.0]
    assert [t for t, _, _ in registry.requests] == [0.0, 0.5, 1.5, 3.5]


# -- pacing -------------------------------------------------------------------------------------


async def test_requests_per_minute_paces_a_long_concurrent_run_without_bursts() -> None:
    time = VirtualTime()
    registry = Registry(time, lambda request: manifest_ok(**HUB_HEADERS))

    async def main() -> None:
        async with (
            registry.client(requests_per_minute=120, concurrency=8) as client,
            anyio.create_task_group() as group,
        ):
            for number in range(500):
                method = client.head_manifest if number % 2 else client.get_manifest
                group.start_soon(method, "library/nginx", f"tag{number}")

    await main()
    starts = [t for t, _, _ in registry.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 500
    assert min(gaps) == pytest.approx(0.5)  # 60 / 120 seconds: never two at once
    assert max(gaps) == pytest.approx(0.5)  # and no stalls either
    assert starts[-1] - starts[0] == pytest.approx(499 * 0.5)


async def test_pacing_keeps_a_throttling_registry_happy_for_an_hour() -> None:
    """A registry that allows 10 requests a minute and answers 429 beyond that."""
    time = VirtualTime()
    window: list[float] = []

    def respond(request: httpx.Request) -> httpx.Response:
        while window and window[0] <= time.now - 60:
            window.pop(0)
        if len(window) >= 10:
            return httpx.Response(429, headers={"Retry-After": "60"})
        window.append(time.now)
        return manifest_ok()

    registry = Registry(time, respond)

    async def main() -> None:
        async with (
            registry.client(requests_per_minute=10, concurrency=4) as client,
            anyio.create_task_group() as group,
        ):
            for number in range(600):
                group.start_soon(client.head_manifest, "library/nginx", f"t{number}")

    await main()
    assert len(registry.requests) == 600  # no 429, so no retries
    assert registry.requests[-1][0] - registry.requests[0][0] == pytest.approx(599 * 6.0)


@pytest.mark.parametrize("value", [0, -5])
def test_requests_per_minute_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RegistryClient("r", "https://registry.example", requests_per_minute=value)
