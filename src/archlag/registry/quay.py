"""Quay's own API (``quay.io`` and self-hosted Quay): the history of a tag, with push times.

``GET /api/v1/repository/{namespace}/{repository}/tag/?specificTag=<tag>&onlyActiveTags=false``
lists every revision of the tag: each time it was pointed at a manifest, with ``start_ts`` (unix
seconds, set by Quay when the revision began) and ``end_ts`` (when it was replaced or deleted;
absent while live). Pages of ``limit=100`` are followed while ``has_additional`` is true, for at
most ``max_pages``. Public repositories need no credentials; for private ones pass an OAuth
application token, sent as ``Authorization: Bearer``.

Rows without a manifest digest (legacy image-only tags) are skipped; wrong types raise
:class:`~archlag.registry.errors.BadResponseError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Unpack

import httpx

from archlag.core.names import is_digest
from archlag.registry.client import check_repository, check_tag
from archlag.registry.credentials import RegistryToken, unsendable
from archlag.registry.errors import BadResponseError, CredentialsError, Where
from archlag.registry.transport import HttpSession, Outgoing, SessionClient, SessionOptions
from archlag.secrets import Secret

PAGE_LIMIT = 100  # the API's maximum
MAX_PAGE_BYTES = 8 << 20

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QuayRevision:
    """One period during which the tag pointed at ``manifest_digest``."""

    manifest_digest: str
    start_ts: float  # unix seconds
    end_ts: float | None  # None while the revision is live


class QuayClient(SessionClient):
    """Client for the Quay API. Use as ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        *,
        base_url: str = "https://quay.io",
        token: Secret | None = None,
        **options: Unpack[SessionOptions],
    ) -> None:
        self._base = httpx.URL(base_url.rstrip("/"))
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"Quay base URL must be http(s)://host[:port], got {base_url!r}")
        self.name = self._base.host
        self._token = token
        options.setdefault("concurrency", 2)  # Quay throttles per IP at a few requests a second
        self._session = HttpSession(
            self.name, secrets=lambda: [token.reveal()] if token is not None else [], **options
        )

    def __repr__(self) -> str:
        return f"QuayClient(base_url={str(self._base)!r})"

    async def tag_history(
        self, repository: str, tag: str, *, max_pages: int = 5
    ) -> list[QuayRevision]:
        """Every revision of ``tag`` in ``repository`` (``namespace/name``), newest first.

        Raises:
            NotFoundError: no such repository.
        """
        check_repository(repository)
        check_tag(tag)
        if repository.count("/") != 1:
            raise ValueError(f"Quay repositories are namespace/name: {repository!r}")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        where = self.where(repository, tag)
        headers = {"Accept": "application/json"}
        if self._token is not None:
            problem = unsendable(RegistryToken(self._token))
            if problem is not None:
                raise where.error(CredentialsError, problem)
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        found: dict[tuple[str, float], QuayRevision] = {}
        for page in range(1, max_pages + 1):
            url = httpx.URL(str(self._base) + f"/api/v1/repository/{repository}/tag/")
            url = url.copy_merge_params(
                {
                    "specificTag": tag,
                    "onlyActiveTags": "false",
                    "limit": str(PAGE_LIMIT),
                    "page": str(page),
                }
            )
            reply = await self._session.send(Outgoing("GET", url, headers, MAX_PAGE_BYTES), where)
            if not 200 <= reply.status < 300:
                raise self._session.error(reply, where)
            document = _parse_page(reply.body, where)
            for row in document["tags"]:
                revision = _parse_revision(row, tag, where)
                if revision is not None:
                    found.setdefault((revision.manifest_digest, revision.start_ts), revision)
            if document.get("has_additional") is not True:
                break
        else:
            _log.info("quay_history_truncated repository=%s tag=%s pages=%d", repository, tag, page)
        return sorted(found.values(), key=lambda r: r.start_ts, reverse=True)


def _parse_page(body: bytes, where: Where) -> Mapping[str, Any]:
    document = where.json_object(body, "Quay tag history")
    if not isinstance(document.get("tags"), list):
        raise where.error(BadResponseError, "Quay tag history has no 'tags' list")
    return document


def _parse_revision(row: object, tag: str, where: Where) -> QuayRevision | None:
    if not isinstance(row, dict):
        raise where.error(BadResponseError, "Quay tag history row is not a JSON object")
    if row.get("name") != tag:
        return None  # specificTag should have filtered these; be sure
    digest = row.get("manifest_digest")
    if digest is None or digest == "":
        return None
    if not isinstance(digest, str) or not is_digest(digest):
        raise where.error(BadResponseError, "Quay tag history row has a malformed manifest_digest")
    start = _seconds(row.get("start_ts"))
    if start is None:
        raise where.error(BadResponseError, "Quay tag history row has no numeric start_ts")
    end = row.get("end_ts")
    end_ts = None if end is None else _seconds(end)
    if end is not None and end_ts is None:
        raise where.error(BadResponseError, "Quay tag history row has a non-numeric end_ts")
    return QuayRevision(digest, start, end_ts)


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
