"""Docker Hub's own API (``hub.docker.com``): tags newest first, with per-platform push times.

The registry API only says what a tag holds now; the Hub API also says when each platform's
image was last pushed (``images[].last_pushed``), which is a push time set by Docker Hub rather
than the time archlag happened to look.

``GET /v2/namespaces/{namespace}/repositories/{repository}/tags?page_size=N&ordering=last_updated``
pages through tags (``next`` is followed only on the same origin, for at most ``max_pages``);
``.../tags/{tag}`` reads one. Official images live in namespace ``library``. Anonymous reads
work for public repositories; with credentials a JWT from ``POST /v2/auth/token`` is sent.

The API has its own per-minute limit (``X-RateLimit-*`` headers; a 429 carries
``X-Retry-After`` as a unix time), honoured by the shared :class:`HttpSession`.

Fields may be null or missing and are then None; wrong types and unreadable dates raise
:class:`~archlag.registry.errors.BadResponseError`. Attestation entries (``unknown/unknown``)
and images without an os or architecture are dropped; platforms are normalised like index
entries, and when one platform appears twice (Windows ``os_version``\\s) the first entry wins.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Unpack

import anyio
import httpx

from archlag.core.names import is_tag
from archlag.core.platforms import Platform
from archlag.registry.client import check_repository, check_tag
from archlag.registry.content import parse_time, platform_from
from archlag.registry.credentials import BasicCredentials
from archlag.registry.errors import BadResponseError, UnauthorizedError, Where
from archlag.registry.headers import is_header_token
from archlag.registry.links import same_origin
from archlag.registry.transport import HttpSession, Outgoing, Reply, SessionClient, SessionOptions
from archlag.secrets import Secret

TOKEN_LIFETIME = 540.0  # Hub JWTs are valid for 10 minutes; renew after 9
MAX_PAGE_BYTES = 8 << 20
MAX_PAGE_SIZE = 100  # the API's maximum
MAX_NEXT_LENGTH = 8 << 10

_log = logging.getLogger(__name__)
# OCI digest grammar: algorithm ":" encoded
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{1,256}")


@dataclass(frozen=True, slots=True)
class HubImage:
    platform: Platform
    digest: str | None  # the platform's image manifest digest
    last_pushed: float | None  # unix seconds


@dataclass(frozen=True, slots=True)
class HubTag:
    name: str
    digest: str | None  # the tag's top-level (index) digest
    last_pushed: float | None  # unix seconds (``tag_last_pushed``, else ``last_updated``)
    images: tuple[HubImage, ...]


class HubClient(SessionClient):
    """Client for the Docker Hub API. Use as ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        *,
        base_url: str = "https://hub.docker.com",
        credentials: BasicCredentials | None = None,
        **options: Unpack[SessionOptions],
    ) -> None:
        self._base = httpx.URL(base_url.rstrip("/"))
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"Hub base URL must be http(s)://host[:port], got {base_url!r}")
        self.name = self._base.host
        self._credentials = credentials
        self._clock = options.get("clock", time.monotonic)
        self._jwt: tuple[Secret, float] | None = None  # (token, expiry on the monotonic clock)
        self._login_lock = anyio.Lock()
        options.setdefault("concurrency", 2)  # the Hub API limits requests per minute
        self._session = HttpSession(self.name, secrets=self._secrets, **options)

    def __repr__(self) -> str:
        return f"HubClient(base_url={str(self._base)!r})"

    async def tags(
        self, repository: str, *, page_size: int = 100, max_pages: int = 10
    ) -> list[HubTag]:
        """Tags of ``repository`` (``nginx`` means ``library/nginx``), most recently pushed first.

        Reads at most ``max_pages`` pages of ``page_size`` (1 to 100) tags.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE or max_pages < 1:
            raise ValueError("page_size must be 1..100 and max_pages at least 1")
        namespace, name = _split(repository)
        where = self.where(f"{namespace}/{name}")
        url = self._url(f"/v2/namespaces/{namespace}/repositories/{name}/tags")
        url = url.copy_merge_params({"page_size": str(page_size), "ordering": "last_updated"})
        found: dict[str, HubTag] = {}
        visited: set[httpx.URL] = set()
        for _ in range(max_pages):
            visited.add(url)
            page = where.json_object((await self._get(url, where)).body, "Docker Hub tags page")
            results = page.get("results")
            if not isinstance(results, list):
                raise where.error(BadResponseError, "tags page has no 'results' list")
            for item in results:
                tag = _parse_tag(item, where)
                if is_tag(tag.name):  # a name that is not a tag cannot be looked up anyway
                    found.setdefault(tag.name, tag)  # pages shift when tags are pushed meanwhile
            next_url = self._next(page, url, where)
            if next_url is None or next_url in visited:
                break
            url = next_url
        else:
            _log.info("hub_tags_truncated repository=%s pages=%d", where.repository, max_pages)
        return sorted(found.values(), key=_newest_first)

    async def tag(self, repository: str, tag: str) -> HubTag:
        """One tag of ``repository``.

        Raises:
            NotFoundError: no such repository or tag.
        """
        check_tag(tag)
        namespace, name = _split(repository)
        where = self.where(f"{namespace}/{name}", tag)
        reply = await self._get(
            self._url(f"/v2/namespaces/{namespace}/repositories/{name}/tags/{tag}"), where
        )
        return _parse_tag(where.json_object(reply.body, "Docker Hub tag"), where)

    def _url(self, path: str) -> httpx.URL:
        return httpx.URL(str(self._base) + path)

    def _next(self, page: Mapping[str, Any], url: httpx.URL, where: Where) -> httpx.URL | None:
        target = page.get("next")
        if target is None or target == "":
            return None
        if not isinstance(target, str) or len(target) > MAX_NEXT_LENGTH:
            raise where.error(BadResponseError, "tags page has a 'next' that is not a URL")
        try:
            next_url = url.join(target)
        except (httpx.InvalidURL, ValueError):
            where.hit("bad_url")
            raise where.error(BadResponseError, "tags page has an invalid 'next' URL") from None
        if not same_origin(next_url, self._base):
            where.hit("bad_url")
            _log.warning(
                "hub_next_page_ignored repository=%s reason=other_origin", where.repository
            )
            return None
        return next_url

    async def _get(self, url: httpx.URL, where: Where) -> Reply:
        """GET with the JWT if there are credentials; a 401 gets one retry with a new JWT."""
        reply = None
        for fresh in (False, True):
            headers = {"Accept": "application/json"}
            token = await self._token(where, fresh=fresh)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            reply = await self._session.send(Outgoing("GET", url, headers, MAX_PAGE_BYTES), where)
            if reply.status != 401 or token is None:
                break
        assert reply is not None
        if not 200 <= reply.status < 300:
            raise self._session.error(reply, where)
        return reply

    async def _token(self, where: Where, *, fresh: bool) -> str | None:
        if self._credentials is None:
            return None
        async with self._login_lock:
            if fresh or self._jwt is None or self._clock() >= self._jwt[1]:
                token = await self._login(self._credentials, where)
                self._jwt = (Secret(token), self._clock() + TOKEN_LIFETIME)
            return self._jwt[0].reveal()

    async def _login(self, credentials: BasicCredentials, where: Where) -> str:
        body = {"identifier": credentials.username, "secret": credentials.password.reveal()}
        request = Outgoing("POST", self._url("/v2/auth/token"), {}, 1 << 20, json=body)
        reply = await self._session.send(request, where)
        if not 200 <= reply.status < 300:
            error = self._session.error(reply, where, action="Docker Hub login")
            if isinstance(error, UnauthorizedError) or reply.status == 400:
                raise where.error(UnauthorizedError, error.message)
            raise error
        document = where.json_object(reply.body, "Docker Hub login response")
        token = document.get("access_token") or document.get("token")
        if not isinstance(token, str) or not token:
            raise where.error(BadResponseError, "Docker Hub login response has no access_token")
        if not is_header_token(token):
            where.hit("bad_token")
            raise where.error(
                BadResponseError, "Docker Hub login response has a token that cannot be sent"
            )
        return token

    def _secrets(self) -> list[str]:
        found = [self._jwt[0].reveal()] if self._jwt is not None else []
        if self._credentials is not None:
            found.append(self._credentials.password.reveal())
        return found


def _split(repository: str) -> tuple[str, str]:
    check_repository(repository)
    parts = repository.split("/")
    if len(parts) == 1:
        return "library", parts[0]
    if len(parts) != 2:
        raise ValueError(f"Docker Hub repositories are namespace/name: {repository!r}")
    return parts[0], parts[1]


def _newest_first(tag: HubTag) -> tuple[bool, float]:
    return tag.last_pushed is None, -(tag.last_pushed or 0.0)


def _parse_tag(item: object, where: Where) -> HubTag:
    if not isinstance(item, dict):
        raise where.error(BadResponseError, "Docker Hub tag is not a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise where.error(BadResponseError, "Docker Hub tag has no name")
    images = item.get("images")
    if images is not None and not isinstance(images, list):
        raise where.error(BadResponseError, f"Docker Hub tag {name!r} has a non-list 'images'")
    found: dict[Platform, HubImage] = {}
    for entry in images or []:
        image = _parse_image(entry, where)
        if image is not None:
            found.setdefault(image.platform, image)
    pushed = _time(item, "tag_last_pushed", where)
    return HubTag(
        name,
        _digest(item, where),
        pushed if pushed is not None else _time(item, "last_updated", where),
        tuple(found.values()),
    )


def _parse_image(entry: object, where: Where) -> HubImage | None:
    if not isinstance(entry, dict):
        raise where.error(BadResponseError, "Docker Hub image is not a JSON object")
    os, architecture = entry.get("os"), entry.get("architecture")
    if not os or not architecture:  # null, missing or empty: not a platform image
        return None
    platform = platform_from(
        {"os": os, "architecture": architecture, "variant": entry.get("variant") or None}, where
    )
    if platform is None or platform.is_unknown:
        return None
    return HubImage(platform, _digest(entry, where), _time(entry, "last_pushed", where))


def _digest(item: Mapping[str, Any], where: Where) -> str | None:
    value = item.get("digest")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise where.error(BadResponseError, "Docker Hub sent a malformed digest")
    return value


def _time(item: Mapping[str, Any], key: str, where: Where) -> float | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    when = parse_time(value) if isinstance(value, str) else None
    if when is None:
        raise where.error(BadResponseError, f"Docker Hub {key} is not a date-time")
    return when if when > 0 else None  # 0001-01-01 and the epoch mean "never"
