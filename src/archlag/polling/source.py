"""What the poller needs from a registry (:class:`TagSource`), and its implementation.

:class:`RegistryTagSource` reads tags through the OCI client and, where enabled, enriches what
it finds with push times from Docker Hub's API (per platform image) or Quay's API (per tag
revision). Those APIs are hints: when they fail, the poll goes on with archlag's own times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from archlag import logs
from archlag.config import Config
from archlag.core.platforms import Platform
from archlag.core.publication import Content
from archlag.registry import (
    BasicCredentials,
    HubClient,
    QuayClient,
    RegistryClient,
    RegistryError,
    RequestObserver,
)
from archlag.registry.content import TagContent, fetch_content

log = logging.getLogger("archlag.sources")

# Polling slows down when a registry's pull quota runs low: (share of the limit left, factor).
QUOTA_SLOWDOWN = ((0.05, 16.0), (0.20, 4.0))


class TagSource(Protocol):
    async def list_tags(self, repository: str) -> list[str]: ...
    async def head_digest(self, repository: str, tag: str) -> str | None: ...
    async def fetch(
        self, repository: str, tag: str, digest: str | None, *, with_created: bool = False
    ) -> Content: ...
    def slowdown(self) -> float: ...
    async def push_times(self, repository: str) -> dict[str, float]: ...
    async def ping(self) -> None:
        """``GET /v2/`` with archlag's credentials; raises RegistryError if refused."""
        ...


@dataclass(frozen=True, slots=True)
class RegistryTagSource:
    """A :class:`TagSource` over a registry client, with optional push-time APIs."""

    client: RegistryClient
    hub: HubClient | None = None
    quay: QuayClient | None = None

    async def list_tags(self, repository: str) -> list[str]:
        return await self.client.list_tags(repository)

    def names(self) -> list[str]:
        """The names its clients count requests under: the registry and its push-time API."""
        return [c.name for c in (self.client, self.hub, self.quay) if c is not None]

    async def ping(self) -> None:
        await self.client.ping()

    async def head_digest(self, repository: str, tag: str) -> str | None:
        return (await self.client.head_manifest(repository, tag)).digest

    async def fetch(
        self, repository: str, tag: str, digest: str | None, *, with_created: bool = False
    ) -> Content:
        content = await fetch_content(
            self.client, repository, digest or tag, with_created=with_created
        )
        built = {p: t for p, t in content.created.items() if t is not None}
        pushed = await self._pushed(repository, tag, content)
        return Content(content.digest, dict(content.platforms), pushed, built)

    async def aclose(self) -> None:
        """Close the registry client and the push-time API clients."""
        await self.client.aclose()
        for api in (self.hub, self.quay):
            if api is not None:
                await api.aclose()

    def slowdown(self) -> float:
        """How much slower to poll: 1 normally; more when the pull quota is nearly spent."""
        limit = self.client.status().rate_limit
        if limit is None or limit.limit <= 0:
            return 1.0
        share = limit.remaining / limit.limit
        return next((factor for below, factor in QUOTA_SLOWDOWN if share < below), 1.0)

    async def push_times(self, repository: str) -> dict[str, float]:
        """Tag push times, newest first, where the registry has an API for them (Docker Hub)."""
        if self.hub is None:
            return {}
        try:
            tags = await self.hub.tags(repository)
        except RegistryError as exc:
            logs.event(
                log,
                logging.INFO,
                "push_times_unavailable",
                registry=self.client.name,
                repository=repository,
                error=exc.message,
            )
            return {}
        return {t.name: t.last_pushed for t in tags if t.last_pushed is not None}

    async def _pushed(
        self, repository: str, tag: str, content: TagContent
    ) -> dict[Platform, float]:
        try:
            if self.hub is not None:
                found = await self.hub.tag(repository, tag)
                return {
                    image.platform: image.last_pushed
                    for image in found.images
                    if image.last_pushed is not None
                    and content.platforms.get(image.platform) == image.digest
                }
            if self.quay is not None:
                for revision in await self.quay.tag_history(repository, tag):
                    if revision.manifest_digest == content.digest:
                        return dict.fromkeys(content.platforms, revision.start_ts)
        except RegistryError as exc:
            logs.event(
                log,
                logging.INFO,
                "push_times_unavailable",
                registry=self.client.name,
                repository=repository,
                tag=tag,
                error=exc.message,
            )
        return {}


def tag_source(
    config: Config, client: RegistryClient, observer: RequestObserver | None = None
) -> RegistryTagSource:
    """How the exporter reads a registry: the OCI API plus its push-time API where enabled."""
    settings = config.registry(client.name)
    basic = None
    if settings.username is not None and settings.password is not None:
        basic = BasicCredentials(settings.username, settings.password)
    hub = HubClient(credentials=basic, observer=observer) if settings.hub_api else None
    quay = QuayClient(token=settings.token, observer=observer) if settings.quay_api else None
    return RegistryTagSource(client, hub=hub, quay=quay)
