"""Read-only access to container registries: HTTP client, authentication, tag content.

Everything other modules need is re-exported here; the error tree is documented in
:mod:`archlag.registry.errors`.
"""

from archlag.registry.client import (
    MANIFEST_ACCEPT,
    BasicCredentials,
    CredentialSource,
    Manifest,
    ManifestHead,
    RegistryClient,
    RequestObserver,
    RetryPolicy,
    StaticCredentials,
)
from archlag.registry.content import TagContent, fetch_content
from archlag.registry.errors import (
    RESULTS,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    UnauthorizedError,
)

__all__ = [
    "MANIFEST_ACCEPT",
    "RESULTS",
    "BadResponseError",
    "BasicCredentials",
    "CredentialSource",
    "Manifest",
    "ManifestHead",
    "NotFoundError",
    "RateLimitedError",
    "RegistryClient",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryTimeoutError",
    "RequestObserver",
    "RetryPolicy",
    "ServerError",
    "StaticCredentials",
    "TagContent",
    "UnauthorizedError",
    "fetch_content",
]
