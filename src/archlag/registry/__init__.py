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
- :mod:`~archlag.registry.manifests`: media types and digests;
- :mod:`~archlag.registry.configured`: clients as the configuration describes them;
- untrusted input, read once and defensively (beside :mod:`archlag.core.names`, the grammar
  of tags, repositories and digests): :mod:`~archlag.registry.jsonbody` (JSON bodies),
  :mod:`~archlag.registry.headers` and :mod:`~archlag.registry.links` (header values, ``Link``);
  :mod:`~archlag.registry.caps`: the counters of caps hit;
- :mod:`~archlag.registry.errors`: the error tree.

Everything other modules need is re-exported here; the label values the client produces
(results, refusal reasons, caps) are in :mod:`archlag.core.outcomes`.
"""

from archlag.registry.client import Manifest, ManifestHead, RegistryClient
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
from archlag.registry.manifests import MANIFEST_ACCEPT
from archlag.registry.quay import QuayClient, QuayRevision
from archlag.registry.ratelimit import ClientStatus, RateLimitStatus
from archlag.registry.transport import RequestObserver, RetryPolicy

__all__ = [
    "MANIFEST_ACCEPT",
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
]
