"""What a registry client may authenticate with, and where it gets it from.

Three kinds of credentials, as Docker's ``config.json`` knows them:

- :class:`BasicCredentials`: user name and password. Sent as HTTP Basic to a registry that asks
  for Basic, and to a bearer token server (``GET <realm>``).
- :class:`IdentityToken`: a refresh token (Docker's ``identitytoken``, or a helper's answer with
  user name ``<token>``). Exchanged at the token server with the OAuth2 ``POST`` flow.
- :class:`RegistryToken`: a bearer token for the registry itself (Docker's ``registrytoken``),
  sent as ``Authorization: Bearer <token>`` with no token server involved.

A :class:`CredentialSource` is asked each time credentials are needed, so that a source may
re-read a file or re-run a helper; :class:`StaticCredentials` is the fixed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archlag.secrets import Secret


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: Secret


@dataclass(frozen=True, slots=True)
class IdentityToken:
    """A refresh token for the OAuth2 ``POST`` token flow (``grant_type=refresh_token``)."""

    token: Secret


@dataclass(frozen=True, slots=True)
class RegistryToken:
    """A bearer token sent to the registry as is."""

    token: Secret


Credentials = BasicCredentials | IdentityToken | RegistryToken


class CredentialSource(Protocol):
    """Where credentials come from: fixed configuration, a docker config file, a helper.

    Raises:
        CredentialsError: the credentials exist but cannot be loaded.
    """

    async def credentials(self) -> Credentials | None: ...


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """Credentials fixed at configuration time (or None for anonymous access)."""

    value: Credentials | None

    async def credentials(self) -> Credentials | None:
        return self.value


def secret_values(credentials: Credentials | None) -> list[str]:
    """The secret strings in ``credentials``, for scrubbing untrusted text."""
    if credentials is None:
        return []
    if isinstance(credentials, BasicCredentials):
        return [credentials.password.reveal()]
    return [credentials.token.reveal()]
