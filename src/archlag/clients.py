"""Registry clients built from the configuration: credentials, limits, push-time APIs."""

from __future__ import annotations

from archlag.config import Config, RegistrySettings
from archlag.reference import api_base_url
from archlag.registry import (
    BasicCredentials,
    CredentialSource,
    DockerConfigCredentials,
    HubClient,
    QuayClient,
    RegistryClient,
    RegistryToken,
    RequestObserver,
    RetryPolicy,
    StaticCredentials,
)
from archlag.sources import RegistryTagSource


def credentials_for(settings: RegistrySettings) -> CredentialSource | None:
    """The configured way to authenticate to one registry; None for anonymous access."""
    if settings.username is not None and settings.password is not None:
        return StaticCredentials(BasicCredentials(settings.username, settings.password))
    if settings.token is not None:
        return StaticCredentials(RegistryToken(settings.token))
    if settings.docker_config is not None:
        return DockerConfigCredentials(settings.docker_config, settings.host)
    return None


def open_client(
    config: Config,
    registry: str,
    *,
    insecure: bool = False,
    retry: RetryPolicy | None = None,
    observer: RequestObserver | None = None,
) -> RegistryClient:
    """A client for ``registry`` with the config's settings (credentials, limits, timeout)."""
    settings = config.registry(registry)
    return RegistryClient(
        registry,
        api_base_url(registry, insecure=insecure or settings.insecure),
        credentials=credentials_for(settings),
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        retry=retry or RetryPolicy(),
        observer=observer,
        requests_per_minute=settings.requests_per_minute,
        max_backoff=settings.max_backoff,
    )


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
