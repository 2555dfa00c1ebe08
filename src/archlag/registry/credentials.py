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
:func:`unsendable` says why credentials cannot be sent as they are, if they cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from archlag.registry.headers import has_control_character, is_header_token
from archlag.secrets import Secret


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: Secret
    # ``user:password`` as a Secret of its own, so that its base64 (the Basic header and
    # Docker's ``auth`` field) is scrubbed from text like every other secret
    _pair: Secret = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pair", Secret(f"{self.username}:{self.password.reveal()}"))


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


def unsendable(credentials: Credentials | None) -> str | None:
    """Why ``credentials`` cannot be sent as they are, or None; never contains a secret.

    A bearer token goes into a header as it is, so it must be visible ASCII (at most 16 KiB);
    passwords and identity tokens are encoded as UTF-8, so they must be text (a variable holding
    bytes that are not UTF-8 is not), and a control character in them is a mistake.
    """
    if credentials is None:
        return None
    if isinstance(credentials, RegistryToken):
        if is_header_token(credentials.token.reveal()):
            return None
        problem = (
            "the token cannot be sent in a header: it holds a space, a control character or "
            "non-ASCII text, or is longer than 16 KiB"
        )
    else:
        texts = secret_values(credentials)
        if isinstance(credentials, BasicCredentials):
            texts.append(credentials.username)
        if not any(has_control_character(text) or not _is_utf8(text) for text in texts):
            return None
        problem = "the credentials hold a control character or bytes that are not UTF-8"
    return f"{problem} (a secret file or variable that ends in a newline?); nothing was sent"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, from os.environ's surrogateescape
        return False
    return True


def secret_values(credentials: Credentials | None) -> list[str]:
    """The secret strings in ``credentials``, for scrubbing untrusted text."""
    if credentials is None:
        return []
    if isinstance(credentials, BasicCredentials):
        return [credentials.password.reveal()]
    return [credentials.token.reveal()]
