"""An HTTP client for one container registry (OCI Distribution API, read-only).

It speaks HTTP and returns typed results; it knows nothing of Prometheus or storage. Each
:class:`RegistryClient` authenticates (see :mod:`archlag.registry.auth`) and sends through an
:class:`~archlag.registry.transport.HttpSession`, which limits concurrency, paces requests,
backs off after 429s, retries transport errors, timeouts and 5xx, and reports every attempt to
an optional :class:`RequestObserver`. Failures raise the errors documented in
:mod:`archlag.registry.errors`. :meth:`RegistryClient.status` tells what the registry said about
rate limits, how many quota-spending manifest GETs were made and which caps were hit.

What a registry can make the client read is capped: a manifest at 4 MiB, a tag-list page at
16 MiB, a listing at :data:`MAX_TAG_PAGES` pages, :data:`MAX_TAGS_PER_LISTING` tags and
:data:`MAX_LISTING_BYTES`; ``WWW-Authenticate`` at :data:`MAX_CHALLENGES` values of
:data:`MAX_CHALLENGE_LENGTH` characters. A listing that would exceed a cap, or whose next page
cannot be followed, raises :class:`~archlag.registry.errors.BadResponseError`: it is never
returned cut short.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Unpack

import httpx

from archlag.core.names import is_digest, is_repository, is_tag
from archlag.registry.auth import (
    Authenticator,
    SentAuthorization,
    parse_challenges,
    repository_scope,
)
from archlag.registry.credentials import CredentialSource
from archlag.registry.errors import BadResponseError, Where, sanitize
from archlag.registry.headers import bounded_values, content_digest, content_type
from archlag.registry.links import Unfollowable, next_page
from archlag.registry.manifests import (
    MANIFEST_ACCEPT,
    digest_of,
    manifest_media_type,
    reject_schema1,
    verify_digest,
)
from archlag.registry.transport import (
    MAX_SMALL_BYTES,
    HttpSession,
    Outgoing,
    Reply,
    SessionClient,
    SessionOptions,
)

MAX_MANIFEST_BYTES = 4 << 20  # what distribution accepts on push, so nothing real is larger
MAX_TAGS_PAGE_BYTES = 16 << 20
MAX_TOKEN_BYTES = 1 << 20
TAGS_PAGE_SIZE = 1000  # the ``n`` asked for; ECR refuses more
MAX_TAG_PAGES = 500  # pages per listing: 500,000 tags at the page size asked for
MAX_TAGS_PER_LISTING = 200_000  # entries per listing; real repositories stay below 100,000
MAX_LISTING_BYTES = 64 << 20  # bodies per listing: 200,000 tags of 128 characters need 27 MiB
MAX_CHALLENGES = 8  # WWW-Authenticate values read from one answer
MAX_CHALLENGE_LENGTH = 4 << 10


@dataclass(frozen=True, slots=True)
class ManifestHead:
    digest: str | None  # None if the registry omitted Docker-Content-Digest
    media_type: str  # "" if the registry omitted Content-Type


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str  # verified against the body
    media_type: str
    body: bytes


class RegistryClient(SessionClient):
    """Read-only client for one registry. Use as ``async with`` or call :meth:`aclose`.

    ``max_backoff`` caps the registry-wide pause after a 429 (seconds); ``requests_per_minute``
    spaces request starts evenly. ``clock`` (monotonic) times waits; ``wall_clock`` stamps
    :meth:`status`.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        credentials: CredentialSource | None = None,
        **options: Unpack[SessionOptions],
    ) -> None:
        self.name = name
        self._base = httpx.URL(base_url.rstrip("/"))
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"registry base URL must be http(s)://host[:port], got {base_url!r}")
        self._auth = Authenticator(
            registry_url=self._base,
            credentials=credentials,
            fetch_token=self._fetch_token,
            clock=options.get("clock", time.monotonic),
        )
        self._session = HttpSession(name, secrets=self._auth.secrets, **options)

    def __repr__(self) -> str:
        return f"RegistryClient(name={self.name!r}, base_url={str(self._base)!r})"

    async def ping(self) -> None:
        """Check that the registry speaks the API and that we may use it (``GET /v2/``)."""
        await self._request("GET", self._url("/v2/"), self.where(), None, MAX_SMALL_BYTES)

    async def list_tags(self, repository: str) -> list[str]:
        """Every tag of the repository, sorted and without duplicates, following ``Link`` pages.

        Entries are returned as the registry sent them: callers keep those that pass
        :func:`~archlag.core.names.is_tag` (only those can be read further).

        Raises:
            BadResponseError: the listing is incomplete: its next page is on another origin,
                cannot be parsed or loops back, or the listing exceeds a cap
                (:data:`MAX_TAG_PAGES`, :data:`MAX_TAGS_PER_LISTING`, :data:`MAX_LISTING_BYTES`).
                A listing is never cut short silently.
            RegistryError: any other failure, on any page.
        """
        check_repository(repository)
        where = self.where(repository)
        url = self._url(f"/v2/{repository}/tags/list").copy_merge_params({"n": str(TAGS_PAGE_SIZE)})
        listing = _Listing(where)
        for _ in range(MAX_TAG_PAGES):
            reply = await self._request(
                "GET", url, where, repository_scope(repository), MAX_TAGS_PAGE_BYTES
            )
            listing.add(url, reply)
            following = next_page(reply.headers, reply.url, self._base)
            if following is None:
                return sorted(listing.tags)
            url = listing.follow(following)
        where.hit("tag_pages")
        raise where.error(
            BadResponseError,
            f"tag listing is incomplete: it has more than {MAX_TAG_PAGES} pages, "
            "the cap on pages per listing",
        )

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead:
        """Digest and media type of a manifest without downloading it (``HEAD``, no quota).

        Raises:
            UnsupportedManifestError: a schema1 media type (with the digest, if the registry
                sent one).
            RegistryError: the request failed.
        """
        where = self._manifest_where(repository, reference)
        reply = await self._request(
            "HEAD",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            where,
            repository_scope(repository),
            MAX_SMALL_BYTES,
            accept=", ".join(MANIFEST_ACCEPT),
        )
        media_type = content_type(reply.headers, where)
        digest = content_digest(reply.headers, where)
        if digest is None and is_digest(reference):
            digest = reference
        reject_schema1(media_type, where, digest)  # with the digest: the refusal is remembered
        return ManifestHead(digest, media_type)

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        """A manifest's bytes, verified against its digest (reference or Docker-Content-Digest).

        Counted in ``status().quota_requests``: Docker Hub counts manifest GETs as pulls.

        Raises:
            UnsupportedManifestError: a schema1 manifest.
            BadResponseError: digest mismatch, over 4 MiB, or any RegistryError.
        """
        where = self._manifest_where(repository, reference)
        reply = await self._request(
            "GET",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            where,
            repository_scope(repository),
            MAX_MANIFEST_BYTES,
            accept=", ".join(MANIFEST_ACCEPT),
            counts_quota=True,
        )
        media_type = manifest_media_type(content_type(reply.headers, where), reply.body)
        reject_schema1(media_type, where)
        header = content_digest(reply.headers, where)
        expected = [d for d in (reference if is_digest(reference) else None, header) if d]
        for digest in expected:
            verify_digest(digest, reply.body, where, "manifest")
        digest = expected[0] if expected else digest_of("sha256", reply.body)
        return Manifest(digest, media_type, reply.body)

    async def get_blob(self, repository: str, digest: str, *, max_bytes: int = 4 << 20) -> bytes:
        """A blob's bytes (at most ``max_bytes``), verified against ``digest``.

        Raises:
            ValueError: ``digest`` is not a sha256/sha512 digest.
        """
        check_repository(repository)
        if not is_digest(digest):
            raise ValueError(f"not a verifiable digest: {digest!r}")
        where = self.where(repository, digest)
        reply = await self._request(
            "GET",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            where,
            repository_scope(repository),
            max_bytes,
        )
        verify_digest(digest, reply.body, where, "blob")
        return reply.body

    def _url(self, path: str) -> httpx.URL:
        return httpx.URL(str(self._base) + path)

    def _manifest_where(self, repository: str, reference: str) -> Where:
        check_repository(repository)
        if not (is_tag(reference) or is_digest(reference)):
            raise ValueError(f"not a tag or digest: {reference!r}")
        return self.where(repository, reference)

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        where: Where,
        scope: str | None,
        limit: int,
        *,
        accept: str | None = None,
        counts_quota: bool = False,
    ) -> Reply:
        """Send with authentication: answer one 401 challenge, then map failures to errors."""
        headers = {"Accept": accept} if accept else {}

        def outgoing(sent: SentAuthorization | None) -> Outgoing:
            return Outgoing(
                method, url, _with_auth(headers, sent), limit, counts_quota=counts_quota
            )

        sent = await self._auth.up_front(scope, where)
        reply = await self._session.send(outgoing(sent), where)
        if reply.status == 401:
            values = bounded_values(
                reply.headers,
                "www-authenticate",
                where,
                max_count=MAX_CHALLENGES,
                max_length=MAX_CHALLENGE_LENGTH,
            )
            challenges = parse_challenges(values)
            retry_with = await self._auth.answer(challenges, scope, sent, where)
            if retry_with is not None:
                reply = await self._session.send(outgoing(retry_with), where)
        if not 200 <= reply.status < 300:
            raise self._session.error(reply, where)
        return reply

    async def _fetch_token(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None,
        where: Where,
    ) -> bytes:
        request = Outgoing(method, url, headers, MAX_TOKEN_BYTES, data=form)
        reply = await self._session.send(request, where)
        if not 200 <= reply.status < 300:
            raise self._session.error(reply, where, action="token request")
        return reply.body


def _with_auth(headers: dict[str, str], sent: SentAuthorization | None) -> dict[str, str]:
    if sent is None:
        return headers
    return {**headers, "Authorization": sent.header.reveal()}


def check_repository(repository: str) -> None:
    """Raise ValueError unless ``repository`` is a valid repository name."""
    if not is_repository(repository):
        raise ValueError(f"not a repository name: {repository!r}")


def check_tag(tag: str) -> None:
    """Raise ValueError unless ``tag`` is a valid tag name."""
    if not is_tag(tag):
        raise ValueError(f"not a tag: {tag!r}")


class _Listing:
    """The pages of one tag listing read so far, within the caps on tags and bytes."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.tags: set[str] = set()
        self._visited: set[httpx.URL] = set()
        self._entries = 0
        self._bytes = 0

    def add(self, url: httpx.URL, reply: Reply) -> None:
        """Take a page's tags (entries count towards the cap even when repeated)."""
        self._visited.add(url)
        page = _parse_tags(reply.body, self.where)
        self._entries += len(page)
        self._bytes += len(reply.body)
        if self._entries > MAX_TAGS_PER_LISTING:
            self._over_cap(f"more than {MAX_TAGS_PER_LISTING:,} tags")
        if self._bytes > MAX_LISTING_BYTES:
            self._over_cap(f"more than {MAX_LISTING_BYTES >> 20} MiB of tag lists")
        self.tags.update(page)

    def follow(self, following: httpx.URL | Unfollowable) -> httpx.URL:
        """The next page's URL, unless the listing cannot be completed."""
        if isinstance(following, Unfollowable):
            self.where.hit(following.limit)
            message = f"tag listing is incomplete: the next page {following.reason}"
            raise self.where.error(BadResponseError, sanitize(message))
        if following in self._visited:
            raise self.where.error(
                BadResponseError, "tag listing is incomplete: its next page was read before"
            )
        return following

    def _over_cap(self, what: str) -> None:
        self.where.hit("tags_per_listing")
        raise self.where.error(
            BadResponseError, f"tag listing has {what}, the cap on tags per listing"
        )


def _parse_tags(body: bytes, where: Where) -> list[str]:
    tags = where.json_object(body, "tags list").get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise where.error(BadResponseError, "tags list has a 'tags' that is not a list of strings")
    return tags
