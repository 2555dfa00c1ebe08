"""Counters of the caps a registry made a client hit, for a metric the exporter builds.

A registry is someone else's server; every resource its answers can claim is capped, and each
time a cap (or a validity check on what it sent) refuses something, the client counts it under
one of a fixed set of keys, :data:`LIMITS`, reported by ``status().limits_hit``:

=====================  ===========================================================================
key                    counted when
=====================  ===========================================================================
tag_pages              a tag listing needed more than ``client.MAX_TAG_PAGES`` pages
tags_per_listing       a tag listing held more than ``client.MAX_TAGS_PER_LISTING`` tags (or bytes
                       beyond ``client.MAX_LISTING_BYTES``)
platforms_per_index    a tag offered more than ``content.MAX_PLATFORMS`` platforms (once per fetch)
body_too_large         a body was larger than the limit for its kind, inflated or not, or was
                       compressed more than once (``bodies.read_body``)
json_too_deep          a JSON body was nested deeper than ``jsonbody.MAX_DEPTH``
bad_header             a header value was refused: Docker-Content-Digest, Content-Type, Link,
                       WWW-Authenticate (too long, too many, a bearer challenge without realm),
                       a Content-Encoding archlag did not ask for
bad_url                no URL could be built from what the registry sent: a ``Link`` target, a
                       realm, a ``next`` page, or a next page on another origin
bad_token              a token server answered with a token that cannot be sent in a header
=====================  ===========================================================================

Counts only grow; the keys never change, so a metric built from them has bounded labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from archlag.core.outcomes import LIMITS


def no_limits_hit() -> Mapping[str, int]:
    """Every key of :data:`LIMITS` at zero."""
    return MappingProxyType(dict.fromkeys(LIMITS, 0))


class LimitCounter:
    """How often each cap of :data:`LIMITS` was hit, for one client."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(LIMITS, 0)

    def hit(self, key: str) -> None:
        """Count one hit of ``key``, which must be in :data:`LIMITS`."""
        if key not in self._counts:
            raise ValueError(f"unknown limit {key!r}")
        self._counts[key] += 1

    def snapshot(self) -> Mapping[str, int]:
        """The counts so far, every key present."""
        return MappingProxyType(dict(self._counts))
