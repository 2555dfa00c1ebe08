"""Read-only access to container registries: HTTP client, authentication, tag content.

Modules, each one thing:

- :mod:`~archlag.registry.client`: the OCI Distribution API client (:class:`RegistryClient`);
- :mod:`~archlag.registry.transport`: request machinery shared by all clients (retries, back-off,
  pacing, rate-limit bookkeeping); :mod:`~archlag.registry.ratelimit`: the pieces it uses;
- :mod:`~archlag.registry.auth`: answering challenges (:mod:`~archlag.registry.challenges`)
  with credentials or bearer tokens (:mod:`~archlag.registry.tokens`);
  :mod:`~archlag.registry.credentials` and :mod:`~archlag.registry.docker_config`: credentials;
- :mod:`~archlag.registry.content`: which platforms a tag provides;
- :mod:`~archlag.registry.hub` and :mod:`~archlag.registry.quay`: registry-specific metadata
  APIs with push times;
- untrusted input, read once and defensively: :mod:`~archlag.registry.names` (the grammar of
  tags, repositories and digests), :mod:`~archlag.registry.jsonbody` (JSON bodies),
  :mod:`~archlag.registry.headers` and :mod:`~archlag.registry.links` (header values, ``Link``);
  :mod:`~archlag.registry.limits`: the counters of caps hit;
- :mod:`~archlag.registry.errors`: the error tree.

Everything other modules need is re-exported here.
"""

from archlag.registry.client import (
    MANIFEST_ACCEPT,
    Manifest,
    ManifestHead,
    RegistryClient,
)
from archlag.registry.content import TagContent, fetch_content
from archlag.registry.credentials import (
    BasicCredentials,
    Credentials,
    CredentialSource,
    IdentityToken,
    RegistryToken,
    StaticCredentials,
)
from archlag.registry.docker_config import DockerConfigCredentials, HelperRunner
from archlag.registry.errors import (
    RESULTS,
    UNSUPPORTED_REASONS,
    BadResponseError,
    CredentialsError,
    NotFoundError,
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    UnauthorizedError,
    UnsupportedManifestError,
)
from archlag.registry.hub import HubClient, HubImage, HubTag
from archlag.registry.limits import LIMITS
from archlag.registry.names import is_digest, is_repository, is_tag
from archlag.registry.quay import QuayClient, QuayRevision
from archlag.registry.ratelimit import ClientStatus, RateLimitStatus
from archlag.registry.transport import RequestObserver, RetryPolicy

__all__ = [
    "LIMITS",
    "MANIFEST_ACCEPT",
    "RESULTS",
    "UNSUPPORTED_REASONS",
    "BadResponseError",
    "BasicCredentials",
    "ClientStatus",
    "CredentialSource",
    "Credentials",
    "CredentialsError",
    "DockerConfigCredentials",
    "HelperRunner",
    "HubClient",
    "HubImage",
    "HubTag",
    "IdentityToken",
    "Manifest",
    "ManifestHead",
    "NotFoundError",
    "QuayClient",
    "QuayRevision",
    "RateLimitStatus",
    "RateLimitedError",
    "RegistryClient",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryTimeoutError",
    "RegistryToken",
    "RequestObserver",
    "RetryPolicy",
    "ServerError",
    "StaticCredentials",
    "TagContent",
    "UnauthorizedError",
    "UnsupportedManifestError",
    "fetch_content",
    "is_digest",
    "is_repository",
    "is_tag",
]
