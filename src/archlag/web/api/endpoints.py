"""The read API's HTTP routes under ``/api/v1/``.

- ``GET /api/v1/watches``: every watched repository and its status;
- ``GET /api/v1/tags?image=IMAGE[:TAG][&platform=P...]``: the tags in view, per platform;
- ``GET /api/v1/renovate/IMAGE[?platform=P...]``: a Renovate custom datasource (the image raw,
  ``gotify/server`` or ``127.0.0.1:5000/demo/app``, or URL-encoded, as Renovate sends it);
- ``GET /api/v1/state?image=IMAGE``: a repository's stored rows, which a shard that takes the
  repository over adopts (:mod:`archlag.exporter.handoff`). Each request is logged
  (``state_requested``, with the client's address and, behind Basic authentication, its user);
- ``GET /api/v1/running``: what discovery found running, per platform, and whether the next
  release is out for it.

Answers are JSON; a request archlag cannot use is a 400 and an image it does not watch a 404,
both with ``{"error": ...}``, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from archlag import logs
from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.core.references import ImageReference, ImageReferenceError, parse_reference
from archlag.core.snapshots import RepositorySnapshot, RunningStatus, Snapshot
from archlag.web.api.documents import (
    error_document,
    renovate_document,
    tags_document,
    watches_document,
)
from archlag.web.api.running_document import running_document

log = logging.getLogger("archlag.api")
USER_KEY = "archlag.user"  # where the Basic authentication guard puts the user (web.guard)
MAX_IMAGE_LENGTH = 512
MAX_PLATFORMS = 32


class BadRequestError(Exception):
    """A query archlag cannot use; the message says why (it is shown to the client)."""


def api_routes(
    snapshot: Callable[[], Snapshot],
    export: Callable[[str, str], Awaitable[dict[str, Any] | None]] | None = None,
    repository: Callable[[str, str], RepositorySnapshot | None] | None = None,
    running: Callable[[], Sequence[RunningStatus]] = tuple,
) -> list[Route]:
    """The routes; ``export`` gives a repository's stored rows (``/api/v1/state``), and
    ``repository`` one watch's snapshot (without it, the whole snapshot is taken and searched:
    with thousands of tags that costs every request tens of milliseconds)."""

    def watched(image: ImageReference) -> RepositorySnapshot | None:
        if repository is not None:
            return repository(image.registry, image.repository)
        return _watched(snapshot(), image)

    async def watches(request: Request) -> Response:
        return _json(watches_document(snapshot().repositories))

    def lookup(
        text: str, request: Request, *, allow_tag: bool
    ) -> tuple[RepositorySnapshot, ImageReference, frozenset[Platform]] | Response:
        """The watched repository a request names, with its wanted platforms, or the error."""
        try:
            image = _image(text, allow_tag=allow_tag)
            wanted = _platforms(request.query_params.getlist("platform"))
        except BadRequestError as exc:
            return _json(error_document(str(exc)), 400)
        repo = watched(image)
        if repo is None:
            return _json(error_document(f"{_name(image)} is not watched by this archlag"), 404)
        return repo, image, wanted

    async def tags(request: Request) -> Response:
        found = lookup(request.query_params.get("image", ""), request, allow_tag=True)
        if isinstance(found, Response):
            return found
        repo, image, wanted = found
        return _json(tags_document(repo, wanted, image.tag))

    async def renovate(request: Request) -> Response:
        found = lookup(request.path_params["image"], request, allow_tag=False)
        if isinstance(found, Response):
            return found
        repo, _, wanted = found
        return _json(renovate_document(repo, wanted))

    async def state(request: Request) -> Response:
        """A repository's stored history, for the shard it moves to (even if not watched here)."""
        try:
            image = _image(request.query_params.get("image", ""), allow_tag=False)
        except BadRequestError as exc:
            return _json(error_document(str(exc)), 400)
        document = await export(image.registry, image.repository) if export else None
        client = request.client.host if request.client is not None else ""
        logs.event(log, logging.INFO, "state_requested", image=_name(image), client=client,
                   user=request.scope.get(USER_KEY) or "-", found=document is not None)  # fmt: skip
        if document is None:
            return _json(error_document(f"no history of {_name(image)} is stored here"), 404)
        return _json(document)

    async def running_images(request: Request) -> Response:
        return _json(running_document(running()))

    return [
        Route("/api/v1/running", running_images),
        Route("/api/v1/state", state),
        Route("/api/v1/watches", watches),
        Route("/api/v1/tags", tags),
        Route("/api/v1/renovate/{image:path}", renovate),
    ]


def _json(document: dict[str, object], status: int = 200) -> Response:
    return JSONResponse(document, status_code=status, headers={"Cache-Control": "no-store"})


def _image(text: str, *, allow_tag: bool = True) -> ImageReference:
    if not text:
        raise BadRequestError("name an image, e.g. ?image=gotify/server or ?image=ghcr.io/o/r:1.0")
    if len(text) > MAX_IMAGE_LENGTH:
        raise BadRequestError(f"an image reference is at most {MAX_IMAGE_LENGTH} characters")
    try:
        return parse_reference(text, allow_tag=allow_tag)
    except ImageReferenceError as exc:
        raise BadRequestError(str(exc)) from None


def _platforms(values: list[str]) -> frozenset[Platform]:
    parts = [part for value in values for part in value.split(",") if part]
    if len(parts) > MAX_PLATFORMS:
        raise BadRequestError(f"at most {MAX_PLATFORMS} platforms")
    try:
        return frozenset(parse_platform(part) for part in parts)
    except PlatformError as exc:
        raise BadRequestError(str(exc)) from None


def _watched(snapshot: Snapshot, image: ImageReference) -> RepositorySnapshot | None:
    return next(
        (
            r
            for r in snapshot.repositories
            if (r.registry, r.repository) == (image.registry, image.repository)
        ),
        None,
    )


def _name(image: ImageReference) -> str:
    return f"{image.registry}/{image.repository}"
