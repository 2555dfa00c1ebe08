"""Registry clients as the configuration describes them: credentials, limits, timeouts.

Used by the exporter and by ``archlag check``/``wait`` alike; the push-time API clients that
the exporter adds are built in :func:`archlag.polling.source.tag_source`.
"""

from __future__ import annotations

from archlag.config import Config, RegistrySettings
from archlag.core.references import api_base_url
from archlag.registry.client import RegistryClient
from archlag.registry.credentials import (
    BasicCredentials,
    CredentialSource,
    RegistryToken,
    StaticCredentials,
)
from archlag.registry.docker_config import DockerConfigCredentials
from archlag.registry.transport import RequestObserver, RetryPolicy


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
