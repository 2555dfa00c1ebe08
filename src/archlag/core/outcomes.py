"""The bounded label values of what happened at the registry boundary, shared by the registry
client that produces them and the metrics that export them (each value exported from 0):

- :data:`RESULTS`: how one registry request ended (``archlag_registry_requests_total``);
- :data:`UNSUPPORTED_REASONS`: why a well-formed manifest could not be read
  (``archlag_repository_unsupported_manifests_total``);
- :data:`LIMITS`: the caps a registry's answers made a client hit
  (``archlag_registry_limits_hit_total``; :mod:`archlag.registry.caps` says when each counts).
"""

from __future__ import annotations

RESULTS = ("ok", "not_found", "unauthorized", "rate_limited", "server_error", "timeout", "error")
# Why a manifest was refused although it is well-formed:
#   schema1             Docker image manifest v2 schema 1 (deprecated, has no platform list)
#   unknown_media_type  the tag points at something that is neither an index nor an image
#   nested_too_deep     indexes nested deeper than registry/content.py's MAX_INDEX_DEPTH
#   too_many_children   reading the tag needs more than registry/content.py's MAX_CHILD_REQUESTS
UNSUPPORTED_REASONS = ("schema1", "unknown_media_type", "nested_too_deep", "too_many_children")
LIMITS = (
    "tag_pages",
    "tags_per_listing",
    "platforms_per_index",
    "body_too_large",
    "json_too_deep",
    "bad_header",
    "bad_url",
    "bad_token",
)
