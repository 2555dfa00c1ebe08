"""Property tests: no input a registry can send makes a parser raise an undocumented error.

Each parser is fed what Hypothesis makes up (JSON-ish documents biased towards the keys
registries use, arbitrary header bytes, deep nesting) and must either return a well-formed
result or raise the error its module documents: :class:`RegistryError` for the client, None for
the header readers, :class:`ImageReferenceError` for references. Async parts run under
``anyio.run`` with a MockTransport registry.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from hypothesis import given
from hypothesis import strategies as st

from archlag.core.names import is_digest, is_repository, is_tag
from archlag.core.platforms import Platform
from archlag.core.references import ImageReferenceError, parse_reference
from archlag.registry import (
    BadResponseError,
    RegistryClient,
    RegistryError,
    RetryPolicy,
    TagContent,
    fetch_content,
)
from archlag.registry.challenges import MAX_CHALLENGES, parse_challenges
from archlag.registry.content import MAX_PLATFORMS, platform_from
from archlag.registry.errors import Where
from archlag.registry.jsonbody import JsonBodyError, loads
from archlag.registry.links import Unfollowable, next_page, same_origin
from archlag.registry.ratelimit import MAX_HEADER_NUMBER, parse_rate_limit, requested_wait
from archlag.registry.tokens import MAX_TOKEN_LIFETIME, parse_token_response
from archlag.secrets import Secret, scrub
from tests.support.mock_registry import mock_client

BASE = httpx.URL("https://registry.example")
WHERE = Where("registry.example", "demo/app", "1.0")
KEYS = [
    "schemaVersion",
    "mediaType",
    "manifests",
    "digest",
    "size",
    "platform",
    "os",
    "architecture",
    "variant",
    "config",
    "layers",
    "annotations",
    "artifactType",
    "vnd.docker.reference.type",
    "created",
    "tags",
    "name",
    "token",
    "access_token",
    "expires_in",
    "issued_at",
    "errors",
    "code",
    "message",
]
MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
]
ARCHES = ["amd64", "arm64", "arm", "aarch64", "x86_64", "unknown", "386", "Ä", "", "v8"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(MEDIA_TYPES + ARCHES + ["linux", "windows", "sha256:" + "a" * 64]),
    st.text(max_size=20),
)
json_ish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6),
    ),
    max_leaves=30,
)
header_values = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b"0", b"-1", b"1e999", "²".encode(), b"\xff\xfe", b"x\ny"]),
)


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def run(main: Callable[[], Any]) -> Any:
    return anyio.run(main)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> RegistryClient:
    return mock_client(
        handler, str(BASE), retry=RetryPolicy(attempts=1, initial_wait=0, max_wait=0)
    )


@st.composite
def registries(draw: st.DrawFn) -> dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]]:
    """Answers by manifest reference: a top document whose entries point at child documents."""
    children = draw(st.lists(json_ish, max_size=4))
    bodies = [json.dumps(child).encode() for child in children]
    entries = [
        {
            "mediaType": draw(st.sampled_from(MEDIA_TYPES)),
            "digest": digest(body),
            "platform": draw(
                st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {
                            "os": st.sampled_from(["linux", "windows", ""]),
                            "architecture": st.sampled_from(ARCHES),
                        }
                    ),
                    json_ish,
                )
            ),
        }
        for body in bodies
    ]
    top = draw(st.one_of(json_ish, st.just({"mediaType": MEDIA_TYPES[0], "manifests": entries})))
    answers = {}
    for reference, body in [("1.0", json.dumps(top).encode()), *[(digest(b), b) for b in bodies]]:
        headers = [
            (b"content-type", draw(st.sampled_from(MEDIA_TYPES).map(str.encode) | header_values))
        ]
        if draw(st.booleans()):
            headers.append(
                (b"docker-content-digest", draw(st.just(digest(body).encode()) | header_values))
            )
        raw = draw(st.just(body) | st.binary(max_size=40) | st.just(b"[" * 5000))
        answers[reference] = (draw(st.sampled_from([200, 200, 200, 404, 400, 500])), headers, raw)
    return answers


@given(registries())
def test_fetch_content_returns_bounded_content_or_raises_a_registry_error(
    answers: dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        reference = request.url.path.rsplit("/", 1)[-1]
        status, headers, body = answers.get(reference, (404, [], b""))
        return httpx.Response(status, headers=headers, content=body)

    async def main() -> TagContent | RegistryError:
        async with client_for(handler) as client:
            try:
                return await fetch_content(client, "demo/app", "1.0", with_created=True)
            except RegistryError as error:
                return error

    result = run(main)
    if isinstance(result, TagContent):
        assert len(result.platforms) <= MAX_PLATFORMS
        assert result.platforms_dropped >= 0
        assert all(is_digest(d) for d in result.platforms.values())
        assert set(result.created) <= set(result.platforms)


link_values = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda target, rel: f"<{target}>; rel={rel}",
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(
                ["/v2/demo/app/tags/list?last=b", "https://elsewhere.example/x", "http://[::1"]
            ),
        ),
        st.sampled_from(['"next"', "next", '"prev next"', "NEXT", '"last"']),
    ),
)


@given(
    st.lists(link_values, max_size=4),
    st.lists(st.lists(st.text(max_size=8), max_size=5) | json_ish),
)
def test_list_tags_returns_sorted_strings_or_raises_a_registry_error(
    links: list[str], pages: list[Any]
) -> None:
    answers = iter([*pages, *([None] * 600)])

    def handler(request: httpx.Request) -> httpx.Response:
        tags = next(answers)
        headers = [(b"link", link.encode("utf-8", "surrogatepass")) for link in links]
        return httpx.Response(200, headers=headers, content=json.dumps({"tags": tags}).encode())

    async def main() -> list[str] | RegistryError:
        async with client_for(handler) as client:
            try:
                return await client.list_tags("demo/app")
            except RegistryError as error:
                return error

    result = run(main)
    if isinstance(result, list):
        assert result == sorted(set(result))
        assert all(isinstance(tag, str) for tag in result)


@given(
    st.lists(link_values, max_size=10), st.sampled_from(["/v2/x/tags/list", "/v2/x/tags/list?n=1"])
)
def test_next_page_never_raises_and_never_leaves_the_origin(links: list[str], path: str) -> None:
    headers = httpx.Headers([(b"link", link.encode("utf-8", "surrogatepass")) for link in links])
    found = next_page(headers, BASE.join(path), BASE)
    assert found is None or isinstance(found, Unfollowable) or same_origin(found, BASE)


challenge_texts = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda scheme, params: scheme + " " + ",".join(f"{k}={v}" for k, v in params),
        st.sampled_from(["Bearer", "Basic", "bearer", "Negotiate", ""]),
        st.lists(
            st.tuples(
                st.sampled_from(["realm", "service", "scope", "error", "x"]),
                st.text(max_size=30).map(json.dumps) | st.text(max_size=30),
            ),
            max_size=5,
        ),
    ),
)


@given(st.lists(challenge_texts, max_size=6))
def test_parse_challenges_never_raises_and_is_bounded(values: list[str]) -> None:
    challenges = parse_challenges(values)
    assert len(challenges) <= MAX_CHALLENGES
    assert all(c.scheme == c.scheme.lower() and c.scheme for c in challenges)


@given(st.lists(challenge_texts, max_size=3), st.one_of(json_ish, st.binary(max_size=40)))
def test_any_challenge_and_token_answer_is_a_registry_error_at_worst(
    values: list[str], token_answer: Any
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers or request.url.path != "/v2/":
            content = token_answer if isinstance(token_answer, bytes) else json.dumps(token_answer)
            return httpx.Response(200, content=content)
        headers = [(b"www-authenticate", v.encode("utf-8", "surrogatepass")) for v in values]
        return httpx.Response(401, headers=headers)

    async def main() -> RegistryError | None:
        async with client_for(handler) as client:
            try:
                await client.ping()
            except RegistryError as error:
                return error
        return None

    run(main)


@given(st.dictionaries(st.sampled_from(["retry-after", "x-retry-after", "date"]), header_values))
def test_requested_wait_is_none_or_a_finite_non_negative_number(headers: dict[str, bytes]) -> None:
    wait = requested_wait(httpx.Headers(list(headers.items())), 1_800_000_000.0)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


RATE_HEADERS = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "docker-ratelimit-source",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
]


@given(
    st.dictionaries(
        st.sampled_from(RATE_HEADERS), header_values | st.sampled_from([b"100;w=21600", b"5"])
    )
)
def test_parse_rate_limit_is_none_or_sane(headers: dict[str, bytes]) -> None:
    found = parse_rate_limit(httpx.Headers(list(headers.items())), 123.0)
    if found is not None:
        assert 0 <= found.limit <= MAX_HEADER_NUMBER
        assert 0 <= found.remaining <= MAX_HEADER_NUMBER
        assert found.source is None or (found.source.isascii() and found.source.isprintable())
        assert found.reset_at is None or math.isfinite(found.reset_at)


@given(json_ish)
def test_platform_from_returns_a_label_safe_platform_or_a_bad_response(value: Any) -> None:
    try:
        platform = platform_from(value, WHERE)
    except BadResponseError:
        return
    if platform is not None:
        assert isinstance(platform, Platform)
        assert all(
            part.isascii() and part.isprintable() and len(part) <= 64
            for part in (platform.os, platform.architecture, platform.variant)
        )


@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(
            r"([a-z0-9.:-]{1,12}/)?[a-z0-9_.-]{1,12}(/[a-z0-9_.-]{1,8})?(:[A-Za-z0-9_.-]{1,10})?\n?",
            fullmatch=True,
        ),
    )
)
def test_parse_reference_returns_a_valid_reference_or_its_error(text: str) -> None:
    try:
        reference = parse_reference(text)
    except ImageReferenceError:
        return
    assert is_repository(reference.repository)
    assert reference.tag is None or is_tag(reference.tag)
    assert reference.registry.isascii()
    assert reference.registry.isprintable()


@given(st.one_of(json_ish.map(lambda v: json.dumps(v).encode()), st.binary(max_size=60)))
def test_parse_token_response_gives_a_sendable_token_or_a_bad_response(body: bytes) -> None:
    try:
        token = parse_token_response(body, now=100.0, where=WHERE)
    except BadResponseError:
        return
    assert token.value.reveal().isascii()
    assert " " not in token.value.reveal()
    assert 100.0 < token.expires_at <= 100.0 + MAX_TOKEN_LIFETIME


@given(
    st.one_of(
        st.binary(max_size=200),
        json_ish.map(lambda v: json.dumps(v).encode()),
        st.integers(min_value=0, max_value=100_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=0, max_value=100_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    )
)
def test_json_bodies_decode_or_raise_json_body_error_never_recursion(body: bytes) -> None:
    limit = None
    try:
        loads(body)
    except JsonBodyError as error:  # the only error it may raise
        limit = error.limit
    assert limit in (None, "body_too_large", "json_too_deep")


@given(st.text())
def test_names_match_in_full(text: str) -> None:
    for predicate in (is_tag, is_repository, is_digest):
        if predicate(text):
            assert "\n" not in text
            assert predicate(text + "\n") is False


@given(
    # Secrets are text archlag can send: lone surrogates (bytes that were not UTF-8) are refused
    # before anything is sent (credentials.unsendable), and `s.encode()` below would raise.
    st.text(
        alphabet=st.characters(blacklist_characters="*", blacklist_categories=("Cs",)),
        min_size=4,
        max_size=30,
    ),
    st.text(max_size=20),
    st.text(max_size=20),
    st.sampled_from([str, repr, json.dumps, lambda s: repr(s.encode())]),
)
def test_scrub_leaves_no_known_secret(
    value: str, before: str, after: str, shape: Callable[[str], str]
) -> None:
    held = Secret(value)
    text = scrub(before + shape(held.reveal()) + after)
    assert held.reveal() not in text
