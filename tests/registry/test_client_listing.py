"""The registry client's tag listings: pages followed by their Link headers, caps on pages
and tags, and a listing that cannot be completed refused instead of cut short, its limit counted.
"""

from __future__ import annotations

import httpx
import pytest

from archlag.core.names import is_tag
from archlag.core.outcomes import LIMITS
from archlag.registry import BadResponseError, NotFoundError
from archlag.registry.client import MAX_TAG_PAGES
from tests.support.mock_registry import Recorder, index_response, oci_error

pytestmark = pytest.mark.anyio

BASE = "https://registry.example"


def tags_page(tags: list[str] | None, link: str | None = None) -> httpx.Response:
    headers = {"Link": link} if link else {}
    return httpx.Response(200, json={"name": "demo/app", "tags": tags}, headers=headers)


async def test_tags_follow_relative_and_absolute_next_links() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("last")
        if last is None:
            return tags_page(["a", "b"], '</v2/demo/app/tags/list?last=b&n=2>; rel="next"')
        if last == "b":
            return tags_page(["c", "d"], f'<{BASE}/v2/demo/app/tags/list?last=d&n=2>; rel="next"')
        return tags_page(["e"])

    recorder = Recorder(handler)
    async with recorder.client() as client:
        tags = await client.list_tags("demo/app")
    assert tags == ["a", "b", "c", "d", "e"]
    assert recorder.requests[0].url.params["n"] == "1000"
    assert [r.url.params.get("last") for r in recorder.requests] == [None, "b", "d"]


async def test_tags_from_a_registry_that_ignores_n_are_sorted_and_deduplicated() -> None:
    # distribution 2.8.2 returns every tag in one unsorted page, with no Link header.
    recorder = Recorder(lambda request: tags_page(["dl", "1.0", "dl"]))
    async with recorder.client() as client:
        assert await client.list_tags("demo/app") == ["1.0", "dl"]
    assert len(recorder.requests) == 1


async def test_tags_null_means_no_tags() -> None:
    async with Recorder(lambda request: tags_page(None)).client() as client:
        assert await client.list_tags("demo/app") == []


async def test_tags_ignore_links_that_are_not_next() -> None:
    link = '</v2/demo/app/tags/list?last=b>; rel="prev", <https://elsewhere.example/x>; rel=last'
    recorder = Recorder(lambda request: tags_page(["a", "b"], link))
    async with recorder.client() as client:
        assert await client.list_tags("demo/app") == ["a", "b"]
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("link", "message", "limit"),
    [
        pytest.param(
            '<https://elsewhere.example/v2/demo/app/tags/list?last=b>; rel="next"',
            "the next page is on another origin (https://elsewhere.example)",
            "bad_url",
            id="other-host",
        ),
        pytest.param(
            '<http://registry.example/v2/demo/app/tags/list?last=b>; rel="next"',
            "the next page is on another origin (http://registry.example)",
            "bad_url",
            id="other-scheme",
        ),
        pytest.param(
            '<https://registry.example:8443/v2/demo/app/tags/list?last=b>; rel="next"',
            "another origin",
            "bad_url",
            id="other-port",
        ),
        pytest.param(
            '<http://[::1/v2/demo/app/tags/list?last=b>; rel="next"',
            "the next page has an invalid URL",
            "bad_url",
            id="invalid-url",
        ),
        pytest.param(
            '/v2/demo/app/tags/list?last=b; rel="next"',
            "Link header that cannot be parsed",
            "bad_header",
            id="no-angle-brackets",
        ),
        pytest.param(
            "<" + "x" * 10_000 + '>; rel="next"',
            "Link header too long to read",
            "bad_header",
            id="too-long",
        ),
        pytest.param(
            '</v2/demo/app/tags/list?n=1000>; rel="next"',
            "its next page was read before",
            None,
            id="same-url-again",
        ),
    ],
)
async def test_tag_listing_that_cannot_be_completed_fails_instead_of_being_cut_short(
    link: str, message: str, limit: str | None
) -> None:
    recorder = Recorder(lambda request: tags_page(["a", "b"], link))
    async with recorder.client() as client:
        with pytest.raises(BadResponseError, match="tag listing is incomplete") as info:
            await client.list_tags("demo/app")
        hit = client.status().limits_hit
    assert message in str(info.value)
    assert len(recorder.requests) == 1  # nothing was sent to the other origin
    assert {key for key, count in hit.items() if count} == ({limit} if limit else set())


async def test_limits_hit_report_a_fixed_set_of_keys_from_the_start() -> None:
    async with Recorder(index_response).client() as client:
        assert dict(client.status().limits_hit) == dict.fromkeys(LIMITS, 0)
    assert LIMITS == (
        "tag_pages",
        "tags_per_listing",
        "platforms_per_index",
        "body_too_large",
        "json_too_deep",
        "bad_header",
        "bad_url",
        "bad_token",
    )


async def test_endless_same_origin_pagination_stops_at_the_page_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        return tags_page([f"t{page}"], f'</v2/demo/app/tags/list?page={page + 1}>; rel="next"')

    recorder = Recorder(handler)
    async with recorder.client() as client:
        with pytest.raises(BadResponseError) as info:
            await client.list_tags("demo/app")
        assert client.status().limits_hit["tag_pages"] == 1
    assert "more than 500 pages, the cap on pages per listing" in str(info.value)
    assert len(recorder.requests) == MAX_TAG_PAGES == 500


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        pytest.param([200_000], None, id="at-the-cap"),
        pytest.param([200_001], "more than 200,000 tags", id="one-page-over"),
        pytest.param([150_000, 50_001], "more than 200,000 tags", id="two-pages-over"),
    ],
)
async def test_tags_per_listing_are_capped(pages: list[int], expected: str | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        names = [f"{page}-{i}" for i in range(pages[page])]
        more = page + 1 < len(pages)
        return tags_page(names, f'<?page={page + 1}>; rel="next"' if more else None)

    async with Recorder(handler).client() as client:
        if expected is None:
            assert len(await client.list_tags("demo/app")) == sum(pages)
        else:
            with pytest.raises(BadResponseError, match=expected):
                await client.list_tags("demo/app")
        hits = client.status().limits_hit["tags_per_listing"]
    assert hits == (0 if expected is None else 1)


async def test_a_listed_tag_with_a_newline_is_listed_but_never_put_in_a_url() -> None:
    recorder = Recorder(lambda request: tags_page(["1.0", "2.0\n"]))
    async with recorder.client() as client:
        listed = await client.list_tags("demo/app")
        assert [tag for tag in listed if is_tag(tag)] == ["1.0"]
        with pytest.raises(ValueError, match="not a tag or digest"):
            await client.head_manifest("demo/app", "2.0\n")
    assert len(recorder.requests) == 1  # the listing only


async def test_tags_of_unknown_repository_is_not_found() -> None:
    response = oci_error(404, "NAME_UNKNOWN", "repository name not known to registry")
    async with Recorder(lambda request: response).client() as client:
        with pytest.raises(NotFoundError, match="NAME_UNKNOWN"):
            await client.list_tags("nope/repo")


@pytest.mark.parametrize("body", [b"[]", b"not json", b'{"tags": "a"}', b'{"tags": [1, 2]}'])
async def test_malformed_tags_list_is_a_bad_response(body: bytes) -> None:
    async with Recorder(lambda request: httpx.Response(200, content=body)).client() as client:
        with pytest.raises(BadResponseError):
            await client.list_tags("demo/app")
