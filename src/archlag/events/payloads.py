"""What each sender's payload says was pushed: :class:`PushEvent` values, parsed defensively.

Bodies are parsed by the same bounded JSON parser as registry answers
(:func:`archlag.registry.jsonbody.loads`); anything unexpected is :class:`MalformedPayloadError`
for the whole payload, or, for one entry of a list, that entry left out (counted as ignored).
Events that are not pushes of manifests (pulls, blob uploads, deletes, scans) are ignored too.

Shapes (``../shared/reference/push-events.md``):

- ``distribution``: ``{"events": [{"action": "push", "timestamp", "target": {"mediaType",
  "repository", "tag"?, "digest"}, "request": {"host"}}]}``; a manifest pushed by digest names
  no tag (its repository is checked);
- ``harbor``: ``{"type": "PUSH_ARTIFACT", "occur_at", "event_data": {"resources": [{"tag",
  "resource_url"}], "repository": {"repo_full_name"}}}``;
- ``dockerhub``: ``{"push_data": {"pushed_at", "tag"}, "repository": {"repo_name"}}``;
- ``quay``: ``{"repository", "docker_url", "updated_tags": [...]}`` (no push time);
- ``github``: ``registry_package`` / ``package`` events, action ``published`` or ``updated``:
  ``registry_package.{namespace, name, package_version.container_metadata.tag.name,
  package_version.updated_at}``;
- ``generic``: ``{"image": "...", "tag": "...", "pushed_at": "<RFC 3339>"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlag.core.names import is_repository, is_tag
from archlag.core.references import DOCKER_HUB, ImageReferenceError, parse_reference
from archlag.registry.content import parse_time
from archlag.registry.jsonbody import JsonBodyError, loads

MAX_BODY_BYTES = 1 << 20
MAX_EVENTS_PER_PAYLOAD = 1000
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)


class MalformedPayloadError(ValueError):
    """The body is not what this kind of sender sends; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One push a sender announced."""

    registry: str | None  # the registry host the payload names; None: the receiver's
    repository: str  # normalised, as in image references (library/nginx)
    tag: str | None  # None: only a digest was pushed; check the whole repository
    pushed_at: float | None  # unix seconds, as the sender says; None when it does not


@dataclass(frozen=True, slots=True)
class Parsed:
    events: tuple[PushEvent, ...]
    ignored: int  # entries that are not manifest pushes, or could not be read


def parse(kind: str, body: bytes, headers: Mapping[str, str]) -> Parsed:
    """The push events in a payload of sender ``kind``.

    Raises:
        MalformedPayloadError: not JSON within the limits, or not this sender's shape.
    """
    try:
        document = loads(body, max_bytes=MAX_BODY_BYTES)
    except JsonBodyError as exc:
        raise MalformedPayloadError(f"the body is not JSON archlag accepts ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedPayloadError("the body is not a JSON object")
    reader = _READERS[kind]
    return reader(document, headers)


class _Collector:
    def __init__(self) -> None:
        self.events: list[PushEvent] = []
        self.ignored = 0

    def add(
        self, registry: str | None, repository: object, tag: object, pushed_at: float | None
    ) -> None:
        """One event, unless its repository or tag cannot be one (then it is ignored)."""
        if len(self.events) >= MAX_EVENTS_PER_PAYLOAD:
            self.ignored += 1
            return
        name = _repository(registry, repository)
        if name is None or (tag is not None and not is_tag(tag)):
            self.ignored += 1
            return
        self.events.append(PushEvent(name[0], name[1], tag if isinstance(tag, str) else None,
                                     pushed_at))  # fmt: skip

    def parsed(self) -> Parsed:
        return Parsed(tuple(self.events), self.ignored)


def _distribution(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    entries = document.get("events")
    if not isinstance(entries, list):
        raise MalformedPayloadError("a distribution payload has an 'events' list")
    found = _Collector()
    for entry in entries:
        target = entry.get("target") if isinstance(entry, dict) else None
        if not isinstance(target, dict) or entry.get("action") != "push":
            found.ignored += 1
            continue
        if target.get("mediaType") not in MANIFEST_TYPES:
            found.ignored += 1  # blobs, and whatever else is not a manifest
            continue
        request = entry.get("request")
        host = request.get("host") if isinstance(request, dict) else None
        found.add(
            host if isinstance(host, str) else None,
            target.get("repository"),
            target.get("tag") or None,
            _time(entry.get("timestamp")),
        )
    return found.parsed()


def _harbor(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    data = document.get("event_data")
    if not isinstance(data, dict):
        raise MalformedPayloadError("a Harbor payload has an 'event_data' object")
    found = _Collector()
    resources = data.get("resources")
    if document.get("type") != "PUSH_ARTIFACT" or not isinstance(resources, list):
        found.ignored += 1
        return found.parsed()
    repository = data.get("repository")
    name = repository.get("repo_full_name") if isinstance(repository, dict) else None
    for resource in resources:
        if not isinstance(resource, dict):
            found.ignored += 1
            continue
        url = resource.get("resource_url")
        host = url.split("/", 1)[0] if isinstance(url, str) and "/" in url else None
        found.add(host, name, resource.get("tag") or None, _time(document.get("occur_at")))
    return found.parsed()


def _dockerhub(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    push, repository = document.get("push_data"), document.get("repository")
    if not isinstance(push, dict) or not isinstance(repository, dict):
        raise MalformedPayloadError("a Docker Hub payload has 'push_data' and 'repository'")
    found = _Collector()
    found.add(DOCKER_HUB, repository.get("repo_name"), push.get("tag") or None,
              _time(push.get("pushed_at")))  # fmt: skip
    return found.parsed()


def _quay(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    tags, url = document.get("updated_tags"), document.get("docker_url")
    if not isinstance(tags, list) or not isinstance(document.get("repository"), str):
        raise MalformedPayloadError("a Quay payload has 'repository' and 'updated_tags'")
    host = url.split("/", 1)[0] if isinstance(url, str) and "/" in url else "quay.io"
    found = _Collector()
    for tag in tags[:MAX_EVENTS_PER_PAYLOAD]:
        found.add(host, document["repository"], tag, None)
    return found.parsed()


def _github(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    event = headers.get("x-github-event", "")
    package = document.get("registry_package") or document.get("package")
    found = _Collector()
    if event not in ("registry_package", "package") or not isinstance(package, dict):
        found.ignored += 1  # ping, or another event the webhook was subscribed to
        return found.parsed()
    if document.get("action") not in ("published", "updated"):
        found.ignored += 1
        return found.parsed()
    if str(package.get("package_type", "")).lower() != "container":
        found.ignored += 1
        return found.parsed()
    version = package.get("package_version")
    version = version if isinstance(version, dict) else {}
    metadata = version.get("container_metadata")
    tag = metadata.get("tag") if isinstance(metadata, dict) else None
    name = tag.get("name") if isinstance(tag, dict) else None
    namespace, package_name = package.get("namespace"), package.get("name")
    if not isinstance(namespace, str) or not isinstance(package_name, str):
        raise MalformedPayloadError("a registry_package event names its namespace and name")
    when = _time(version.get("updated_at") or version.get("created_at"))
    found.add("ghcr.io", f"{namespace}/{package_name}".lower(), name or None, when)
    return found.parsed()


def _generic(document: dict[str, Any], headers: Mapping[str, str]) -> Parsed:
    image = document.get("image")
    if not isinstance(image, str) or len(image) > 512:
        raise MalformedPayloadError("a generic payload has an 'image' string")
    try:
        reference = parse_reference(image)
    except ImageReferenceError as exc:
        raise MalformedPayloadError(f"'image' is not an image reference: {exc}") from None
    tag = document.get("tag", reference.tag)
    pushed = document.get("pushed_at")
    when = _time(pushed) if pushed is not None else None
    if pushed is not None and when is None:
        raise MalformedPayloadError("'pushed_at' is not an RFC 3339 time")
    found = _Collector()
    found.add(reference.registry, reference.repository, tag, when)
    if found.ignored:
        raise MalformedPayloadError("'tag' is not a tag")
    return found.parsed()


_READERS = {
    "distribution": _distribution,
    "harbor": _harbor,
    "dockerhub": _dockerhub,
    "quay": _quay,
    "github": _github,
    "generic": _generic,
}


def _repository(registry: str | None, value: object) -> tuple[str | None, str] | None:
    """(registry, repository) normalised as image references are, or None."""
    if not isinstance(value, str) or not value or len(value) > 255:
        return None
    if registry is None:  # the receiver names the registry; take the path as the registry sent it
        return (None, value) if is_repository(value) else None
    try:
        reference = parse_reference(f"{registry}/{value}", allow_tag=False)
    except ImageReferenceError:
        return None
    return reference.registry, reference.repository


def _time(value: object) -> float | None:
    """Unix seconds from a number or an RFC 3339 string; None when absent or not plausible."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        parsed = parse_time(value)
        if parsed is None:
            return None
        seconds = parsed
    else:
        return None
    return seconds if math.isfinite(seconds) and 0 < seconds < 1e11 else None
