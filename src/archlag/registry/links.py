"""Origins, and the ``Link: <url>; rel="next"`` header that pages a tag listing.

:func:`next_page` reads the ``Link`` header of a tag-list page (RFC 8288, as the distribution
spec uses it) and never raises. It answers None when there is no next page, the next page's
URL when it can be followed, or :class:`Unfollowable` with the reason when there is a next page
that archlag must not or cannot follow: its URL is invalid or on another origin, or the header
is too long or cannot be parsed. A listing whose next page cannot be followed is incomplete,
and the caller must treat it as a failure rather than as a shorter list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

MAX_LINK_VALUES = 8
MAX_LINK_LENGTH = 8 << 10  # a link to the next page is a path and a query of two parameters

_LINK = re.compile(r"<([^<>]*)>([^<]*)")
_REL = re.compile(r"""(?:^|;)[ \t]*rel[ \t]*=[ \t]*"?([^";]*)"?""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Unfollowable:
    """A next page exists but cannot be followed; ``reason`` completes "the next page ...".

    ``limit`` is the key it counts under (:data:`~archlag.core.outcomes.LIMITS`): ``bad_url``
    for a URL that is invalid or on another origin, ``bad_header`` for an unreadable header.
    """

    reason: str
    limit: str = "bad_header"


def same_origin(url: httpx.URL, origin: httpx.URL) -> bool:
    """True if ``url`` has the scheme, host and port of ``origin``."""
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def next_page(
    headers: httpx.Headers, page_url: httpx.URL, origin: httpx.URL
) -> httpx.URL | Unfollowable | None:
    """The ``rel="next"`` target of ``Link``, resolved against ``page_url``; see the module."""
    values = [value for value in headers.get_list("link") if value.strip()]
    if len(values) > MAX_LINK_VALUES or any(len(value) > MAX_LINK_LENGTH for value in values):
        return Unfollowable("is named in a Link header too long to read")
    target = None
    for value in values:
        links = _LINK.findall(value)
        if not links:
            return Unfollowable("may be named in a Link header that cannot be parsed")
        target = next((url for url, params in links if _is_next(params)), None)
        if target is not None:
            break
    if target is None:
        return None
    try:
        url = page_url.join(target.strip())
    except (httpx.InvalidURL, ValueError):
        return Unfollowable("has an invalid URL", "bad_url")
    if not same_origin(url, origin):
        return Unfollowable(f"is on another origin ({url.scheme}://{url.host})", "bad_url")
    return url


def _is_next(params: str) -> bool:
    rel = _REL.search(params)
    return rel is not None and "next" in rel.group(1).lower().split()
