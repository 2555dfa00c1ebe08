"""The registry client against MockTransport handlers that replay real registry behaviour:
manifests and blobs, errors and retries, the observer, and hostile bodies and headers. Tag
listings are in test_client_listing.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
import httpx
import pytest

import archlag
from archlag.core.outcomes import RESULTS
from archlag.registry import (
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    RegistryClient,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    RetryPolicy,
    ServerError,
    UnauthorizedError,
    fetch_content,
)
from archlag.registry.manifests import MANIFEST_ACCEPT
from tests.support.manifests import INDEX_BODY, INDEX_DIGEST, OCI_INDEX
from tests.support.mock_registry import Recorder, index_response, mock_client, oci_error, sequence

pytestmark = pytest.mark.anyio

BASE = "https://registry.example"


def sha256(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


async def test_get_manifest_sends_accept_and_user_agent_and_verifies_digest() -> None:
    recorder = Recorder(index_response)
    async with recorder.client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST
    assert manifest.media_type == OCI_INDEX  # parameters of Content-Type are ignored
    assert manifest.body == INDEX_BODY
    request = recorder.requests[0]
    assert request.url == f"{BASE}/v2/demo/app/manifests/1.0"
    assert [a.strip() for a in request.headers["accept"].split(",")] == list(MANIFEST_ACCEPT)
    assert set(MANIFEST_ACCEPT) == {
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
    assert request.headers["user-agent"] == f"archlag/{archlag.__version__}"


async def test_get_manifest_without_digest_header_computes_sha256() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=INDEX_BODY, headers={"Content-Type": OCI_INDEX})

    async with Recorder(handler).client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST


async def test_head_manifest_reads_digest_and_tolerates_its_absence() -> None:
    headers = {
        "Content-Type": OCI_INDEX,
        "Docker-Content-Digest": INDEX_DIGEST,
        "Content-Length": str(5 << 20),  # describes the GET body; HEAD has none
    }
    recorder = Recorder(
        sequence(
            httpx.Response(200, headers=headers),
            httpx.Response(200, headers={"Content-Type": OCI_INDEX}),
        )
    )
    async with recorder.client() as client:
        with_digest = await client.head_manifest("demo/app", "1.0")
        without = await client.head_manifest("demo/app", "1.0")
    assert (with_digest.digest, with_digest.media_type) == (INDEX_DIGEST, OCI_INDEX)
    assert (without.digest, without.media_type) == (None, OCI_INDEX)
    assert [r.method for r in recorder.requests] == ["HEAD", "HEAD"]
    assert all(r[1:3] == ("HEAD", "ok") for r in recorder.reports)


@pytest.mark.parametrize(
    ("reference", "header"),
    [
        pytest.param("1.0", sha256(b"something else"), id="header-mismatch"),
        pytest.param(sha256(b"something else"), None, id="reference-mismatch"),
        pytest.param(sha256(b"something else"), INDEX_DIGEST, id="reference-mismatch-header-ok"),
    ],
)
async def test_digest_mismatch_is_a_bad_response(reference: str, header: str | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": OCI_INDEX}
        if header:
            headers["Docker-Content-Digest"] = header
        return httpx.Response(200, content=INDEX_BODY, headers=headers)

    async with Recorder(handler).client() as client:
        with pytest.raises(BadResponseError, match="does not match digest") as info:
            await client.get_manifest("demo/app", reference)
    assert info.value.result == "error"
    assert info.value.repository == "demo/app"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/vnd.docker.distribution.manifest.v1+prettyjws", b'{"schemaVersion": 1}'),
        ("application/vnd.docker.distribution.manifest.v1+json", b'{"schemaVersion": 1}'),
        ("application/json", b'{"schemaVersion": 1, "name": "demo/app", "fsLayers": []}'),
    ],
)
async def test_schema1_manifests_are_rejected_with_a_clear_reason(
    content_type: str, body: bytes
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": content_type})

    async with Recorder(handler).client() as client:
        with pytest.raises(BadResponseError, match="schema1"):
            await client.get_manifest("demo/app", "1.0")


async def test_manifest_over_4_mib_is_refused() -> None:
    big = b" " * ((4 << 20) + 1)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=big, headers={"Content-Type": OCI_INDEX})

    recorder = Recorder(handler)
    async with recorder.client() as client:
        with pytest.raises(BadResponseError, match="larger than"):
            await client.get_manifest("demo/app", "1.0")
    assert len(recorder.requests) == 1  # not retried
    assert recorder.reports[0][2] == "error"


@pytest.mark.parametrize(
    ("response", "error", "result", "text"),
    [
        (
            oci_error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            NotFoundError,
            "not_found",
            "MANIFEST_UNKNOWN: manifest unknown",
        ),
        (
            oci_error(404, "NAME_UNKNOWN", "repository name not known to registry"),
            NotFoundError,
            "not_found",
            "NAME_UNKNOWN",
        ),
        (
            oci_error(403, "DENIED", "requested access is denied"),
            UnauthorizedError,
            "unauthorized",
            "DENIED",
        ),
        (httpx.Response(401), UnauthorizedError, "unauthorized", "HTTP 401"),
        (
            oci_error(400, "MANIFEST_INVALID", "manifest invalid"),
            BadResponseError,
            "error",
            "HTTP 400",
        ),
        (httpx.Response(405, text="<html>nope</html>"), BadResponseError, "error", "HTTP 405"),
    ],
)
async def test_http_statuses_map_to_the_error_tree(
    response: httpx.Response, error: type[RegistryError], result: str, text: str
) -> None:
    recorder = Recorder(lambda request: response)
    async with recorder.client() as client:
        with pytest.raises(error) as info:
            await client.get_manifest("demo/app", "1.0")
    assert type(info.value) is error
    assert info.value.result == result
    assert text in str(info.value)
    assert "registry=registry.example repository=demo/app reference=1.0" in str(info.value)
    assert len(recorder.requests) == 1  # client errors are not retried


async def test_untrusted_error_messages_are_shortened_and_sanitised() -> None:
    message = "evil\x1b[31m\n" + "x" * 5000
    recorder = Recorder(lambda request: oci_error(400, "MANIFEST_INVALID", message))
    async with recorder.client() as client:
        with pytest.raises(BadResponseError) as info:
            await client.get_manifest("demo/app", "1.0")
    text = str(info.value)
    assert len(text) < 400
    assert "\x1b" not in text
    assert "\n" not in text


async def test_5xx_is_retried_with_exponential_backoff_then_succeeds() -> None:
    recorder = Recorder(sequence(httpx.Response(503), httpx.Response(502), index_response()))
    async with recorder.client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST
    assert recorder.sleeps == [0.5, 1.0]
    assert [r[2] for r in recorder.reports] == ["server_error", "server_error", "ok"]


async def test_5xx_exhausted_raises_server_error() -> None:
    recorder = Recorder(lambda request: httpx.Response(500))
    async with recorder.client(
        retry=RetryPolicy(attempts=4, initial_wait=1, max_wait=3, jitter=0)
    ) as client:
        with pytest.raises(ServerError) as info:
            await client.get_manifest("demo/app", "1.0")
    assert info.value.result == "server_error"
    assert len(recorder.requests) == 4
    assert recorder.sleeps == [1.0, 2.0, 3.0]  # doubled, capped at max_wait


@pytest.mark.parametrize(
    ("headers", "expected_sleep"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param(
            {
                "Retry-After": "Wed, 21 Oct 2026 07:30:00 GMT",
                "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
            },
            120.0,
            id="http-date",
        ),
        pytest.param({}, 0.5, id="no-header-uses-backoff"),
    ],
)
async def test_429_honours_retry_after(headers: dict[str, str], expected_sleep: float) -> None:
    throttled = oci_error(429, "TOOMANYREQUESTS", "slow down", **headers)
    recorder = Recorder(sequence(throttled, index_response()))
    async with recorder.client(retry=RetryPolicy(max_wait=300, jitter=0)) as client:
        await client.get_manifest("demo/app", "1.0")
    assert recorder.sleeps == [expected_sleep]
    assert [r[2] for r in recorder.reports] == ["rate_limited", "ok"]


async def test_429_asking_for_longer_than_max_wait_stops_retrying() -> None:
    recorder = Recorder(lambda request: httpx.Response(429, headers={"Retry-After": "3600"}))
    async with recorder.client() as client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_manifest("demo/app", "1.0")
    assert info.value.retry_after == 3600.0
    assert info.value.result == "rate_limited"
    assert recorder.sleeps == []
    assert len(recorder.requests) == 1


async def test_429_exhausted_without_retry_after_reports_the_exponential_back_off() -> None:
    recorder = Recorder(lambda request: httpx.Response(429))
    async with recorder.client(retry=RetryPolicy(attempts=3, jitter=0)) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_manifest("demo/app", "1.0")
    assert recorder.sleeps == [0.5, 1.0]
    assert info.value.retry_after == 2.0  # the back-off the next request would have to sit out
    assert len(recorder.requests) == 3


@pytest.mark.parametrize(
    ("exception", "error", "result"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), RegistryConnectionError, "error"),
        (httpx.ReadTimeout("timed out"), RegistryTimeoutError, "timeout"),
        (httpx.ConnectTimeout("timed out"), RegistryTimeoutError, "timeout"),
        (httpx.RemoteProtocolError("Server disconnected"), RegistryConnectionError, "error"),
    ],
)
async def test_transport_failures_are_retried_then_raised(
    exception: Exception, error: type[RegistryError], result: str
) -> None:
    recorder = Recorder(sequence(exception))
    async with recorder.client(retry=RetryPolicy(attempts=3, jitter=0)) as client:
        with pytest.raises(error) as info:
            await client.get_manifest("demo/app", "1.0")
    assert info.value.result == result
    assert len(recorder.requests) == 3
    assert recorder.sleeps == [0.5, 1.0]
    assert [r[2] for r in recorder.reports] == [result] * 3


async def test_connection_error_then_success() -> None:
    recorder = Recorder(sequence(httpx.ConnectError("refused"), index_response()))
    async with recorder.client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST
    assert [r[2] for r in recorder.reports] == ["error", "ok"]


@pytest.mark.parametrize(
    ("retry", "expected"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (6, 30.0), (20, 30.0)],
)
def test_backoff_doubles_is_capped_and_jitter_only_shortens(retry: int, expected: float) -> None:
    assert RetryPolicy(jitter=0).backoff(retry) == expected
    jittered = [RetryPolicy(jitter=0.25).backoff(retry) for _ in range(50)]
    assert all(expected * 0.75 <= wait <= expected for wait in jittered)


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"initial_wait": -1}, {"jitter": 2}])
def test_retry_policy_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the point
        RetryPolicy(**kwargs)


# -- blobs ----------------------------------------------------------------------------------

CONFIG = b'{"architecture": "amd64", "os": "linux"}'


CONFIG_DIGEST = sha256(CONFIG)


async def test_blob_redirect_to_another_host_never_carries_authorization() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, json={"token": "planted-token"})
        if request.url.host == "cdn.example":
            return httpx.Response(200, content=CONFIG)
        if "authorization" not in request.headers:
            challenge = 'Bearer realm="https://auth.example/token",service="registry.example"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(
            307, headers={"Location": f"https://cdn.example/blobs/{CONFIG_DIGEST}?sig=1"}
        )

    recorder = Recorder(handler)
    async with recorder.client() as client:
        assert await client.get_blob("demo/app", CONFIG_DIGEST) == CONFIG
    registry_requests = [r for r in recorder.requests if r.url.host == "registry.example"]
    cdn_requests = [r for r in recorder.requests if r.url.host == "cdn.example"]
    assert registry_requests[-1].headers["authorization"] == "Bearer planted-token"
    assert len(cdn_requests) == 1
    assert "authorization" not in cdn_requests[0].headers


async def test_blob_with_wrong_content_or_too_large_is_a_bad_response() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, content=b"tampered"))
    async with recorder.client() as client:
        with pytest.raises(BadResponseError, match="does not match digest"):
            await client.get_blob("demo/app", CONFIG_DIGEST)
        with pytest.raises(BadResponseError, match="larger than 4 bytes"):
            await client.get_blob("demo/app", CONFIG_DIGEST, max_bytes=4)


@pytest.mark.parametrize(
    ("repository", "reference"),
    [
        ("Demo/App", "1.0"),
        ("demo/../x", "1.0"),
        ("demo/app", "../../etc"),
        ("demo/app", "sha256:abc"),
    ],
)
async def test_invalid_names_are_refused_before_any_request(
    repository: str, reference: str
) -> None:
    recorder = Recorder(index_response)
    async with recorder.client() as client:
        with pytest.raises(ValueError, match="not a"):
            await client.get_manifest(repository, reference)
    assert recorder.requests == []


# -- observer and concurrency -------------------------------------------------------------


async def test_observer_gets_one_bounded_report_per_attempt() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, json={"token": "t"})
        if "authorization" not in request.headers:
            challenge = 'Bearer realm="https://auth.example/token",service="registry.example"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if request.url.path.endswith("/missing"):
            return httpx.Response(404)
        return index_response(request)

    clock_values = iter(range(100))
    recorder = Recorder(handler)
    async with recorder.client(clock=lambda: float(next(clock_values))) as client:
        await client.get_manifest("demo/app", "1.0")
        with pytest.raises(NotFoundError):
            await client.head_manifest("demo/app", "missing")
    assert [(r[0], r[1], r[2]) for r in recorder.reports] == [
        ("registry.example", "GET", "unauthorized"),
        ("registry.example", "GET", "ok"),  # the token request
        ("registry.example", "GET", "ok"),
        ("registry.example", "HEAD", "not_found"),
    ]
    assert {r[2] for r in recorder.reports} <= set(RESULTS)
    assert all(r[3] == 1.0 for r in recorder.reports)  # measured with the injected clock


async def test_concurrency_limit_bounds_requests_in_flight() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return index_response(request)

    client = mock_client(handler, BASE, name="r", concurrency=2)
    async with client, anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(client.get_manifest, "demo/app", "1.0")
    assert peak == 2


async def test_ping_checks_the_api_version_endpoint() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={}))
    async with recorder.client() as client:
        await client.ping()
    assert recorder.requests[0].url == f"{BASE}/v2/"


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        RegistryClient("r", "ftp://registry.example")


# -- hostile answers: bodies and headers ----------------------------------------------------

DEEP = b"[" * 60_000 + b"]" * 60_000


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        pytest.param(httpx.Response(404, content=DEEP), NotFoundError, "HTTP 404", id="404"),
        pytest.param(
            httpx.Response(400, content=b'{"errors": ' + DEEP + b"}"),
            BadResponseError,
            "HTTP 400",
            id="400",
        ),
        pytest.param(
            httpx.Response(200, content=DEEP, headers={"Content-Type": OCI_INDEX}),
            BadResponseError,
            "manifest is nested deeper than 32 levels",
            id="manifest",
        ),
    ],
)
async def test_a_body_nested_60000_deep_is_refused_without_recursion(
    response: httpx.Response, error: type[RegistryError], text: str
) -> None:
    async with Recorder(lambda request: response).client() as client:
        with pytest.raises(error) as info:
            await fetch_content(client, "demo/app", "1.0")
    assert type(info.value) is error
    assert text in str(info.value)


async def test_a_body_over_its_limit_is_counted() -> None:
    big = b" " * ((4 << 20) + 1)
    recorder = Recorder(lambda request: httpx.Response(200, content=big))
    async with recorder.client() as client:
        with pytest.raises(BadResponseError, match="larger than"):
            await client.get_manifest("demo/app", "1.0")
        assert client.status().limits_hit["body_too_large"] == 1


async def test_a_tag_list_nested_too_deeply_is_refused_and_counted() -> None:
    body = b'{"tags": ' + DEEP + b"}"
    async with Recorder(lambda request: httpx.Response(200, content=body)).client() as client:
        with pytest.raises(BadResponseError, match="tags list is nested deeper than 32 levels"):
            await client.list_tags("demo/app")
        assert client.status().limits_hit["json_too_deep"] == 1


@pytest.mark.parametrize(
    "digest",
    [INDEX_DIGEST + "\n", INDEX_DIGEST.upper(), "sha256:" + "0" * 63, "md5:abc", INDEX_DIGEST * 2],
    ids=["newline", "upper-case", "short", "md5", "twice"],
)
async def test_a_malformed_docker_content_digest_is_refused_and_counted(digest: str) -> None:
    headers = [(b"content-type", OCI_INDEX.encode()), (b"docker-content-digest", digest.encode())]
    recorder = Recorder(lambda request: httpx.Response(200, content=INDEX_BODY, headers=headers))
    async with recorder.client() as client:
        with pytest.raises(BadResponseError, match="Docker-Content-Digest is not a valid digest"):
            await client.head_manifest("demo/app", "1.0")
        with pytest.raises(BadResponseError, match="Docker-Content-Digest is not a valid digest"):
            await client.get_manifest("demo/app", "1.0")
        assert client.status().limits_hit["bad_header"] == 2


@pytest.mark.parametrize(
    "content_type",
    ["x" * 300, "application/vnd.oci.image.index.v1+json\x1b[31m", "not a type", "a/b" * 100],
    ids=["long", "escape", "spaces", "too-long-type"],
)
async def test_an_unusable_content_type_falls_back_to_the_body_and_is_counted(
    content_type: str,
) -> None:
    headers = [(b"content-type", content_type.encode())]

    async with Recorder(
        lambda request: httpx.Response(200, content=INDEX_BODY, headers=headers)
    ).client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
        assert client.status().limits_hit["bad_header"] == 1
    assert manifest.media_type == OCI_INDEX  # from the body's own mediaType


async def test_content_length_with_unicode_digits_is_not_trusted() -> None:
    headers = [(b"content-type", OCI_INDEX.encode()), (b"content-length", "²".encode())]
    async with Recorder(
        lambda request: httpx.Response(200, content=INDEX_BODY, headers=headers)
    ).client() as client:
        manifest = await client.get_manifest("demo/app", "1.0")
    assert manifest.digest == INDEX_DIGEST


async def test_a_flood_of_challenges_is_bounded_and_counted() -> None:
    challenge = ("Bearer realm=" + "x" * 5000).encode()
    flood = [(b"www-authenticate", challenge)] * 1000
    recorder = Recorder(lambda request: httpx.Response(401, headers=flood))
    async with recorder.client() as client:
        with pytest.raises(UnauthorizedError, match="HTTP 401"):
            await client.ping()
        assert client.status().limits_hit["bad_header"] == 1
    assert len(recorder.requests) == 1  # no token request for a challenge that was not read


@pytest.mark.parametrize("location", ["http://[::1", "ftp://registry.example/x", "\x00"])
async def test_a_redirect_to_an_unusable_location_is_a_registry_error(location: str) -> None:
    headers = [(b"location", location.encode())]
    recorder = Recorder(lambda request: httpx.Response(302, headers=headers))
    async with recorder.client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(RegistryError) as info:
            await client.get_manifest("demo/app", "1.0")
    assert info.value.result in RESULTS
