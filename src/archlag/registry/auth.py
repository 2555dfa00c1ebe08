"""Registry authentication: ``WWW-Authenticate`` challenges and bearer tokens.

A registry answers 401 with one or more challenges. ``Bearer`` means: fetch a token from the
challenge's ``realm`` (with ``service`` and ``scope``), then retry with it; ``Basic`` means: send
the configured user name and password. :class:`Authenticator` keeps that state for one registry
and caches tokens per (realm, service, scope). It does no HTTP itself: the client hands it a
token fetcher that goes through the same retries and error mapping as every other request.

How each kind of credentials (:mod:`archlag.registry.credentials`) is used:

- Basic: sent to a Basic registry, and as Basic to the token server (``GET <realm>``), the
  latter only over https or to the registry's own host.
- Identity token: ``POST <realm>`` with ``grant_type=refresh_token`` (OAuth2 form); a token
  server that answers that with 404 gets an anonymous ``GET`` instead, from then on.
- Registry token: sent as ``Authorization: Bearer <token>`` with every request; no token server.

Passwords and tokens are held as :class:`~archlag.secrets.Secret` and never appear in reprs or
messages; :meth:`Authenticator.secrets` lists them so that the client can scrub untrusted text.
"""

from __future__ import annotations

import base64
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import httpx

from archlag.registry.credentials import (
    BasicCredentials,
    Credentials,
    CredentialSource,
    IdentityToken,
    RegistryToken,
    secret_values,
)
from archlag.registry.errors import (
    BadResponseError,
    CredentialsError,
    NotFoundError,
    UnauthorizedError,
    Where,
)
from archlag.secrets import Secret

DEFAULT_TOKEN_LIFETIME = 60.0  # seconds; the token spec's default and minimum
REFRESH_MARGIN = 10.0  # seconds before expiry at which a cached token is no longer used
OAUTH_CLIENT_ID = "archlag"

TokenKey = tuple[str, str, str]  # (realm, service, scope)
# (method, url, headers, form fields or None, where) -> body of a 2xx answer; errors raise.
TokenFetcher = Callable[
    [str, httpx.URL, Mapping[str, str], Mapping[str, str] | None, Where], Awaitable[bytes]
]

_log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge; the scheme and parameter names are lower-case."""

    scheme: str
    params: Mapping[str, str]


def parse_challenges(header_values: Iterable[str]) -> list[Challenge]:
    """Parse every challenge in the given ``WWW-Authenticate`` header values (RFC 9110 §11.6.1).

    Commas inside quoted values do not split, one header may hold several challenges, and
    malformed input yields whatever could be read rather than an exception.
    """
    challenges: list[Challenge] = []
    for text in header_values:
        pos = 0
        while True:
            pos = _skip(text, pos, " \t,")
            scheme = _TOKEN.match(text, pos)
            if scheme is None:
                break
            params, pos = _parse_params(text, scheme.end())
            challenges.append(Challenge(scheme.group().lower(), MappingProxyType(params)))
    return challenges


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _parse_params(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Read ``name=value`` pairs; stop before a token that starts the next challenge."""
    params: dict[str, str] = {}
    while True:
        start = _skip(text, pos, " \t,")
        name = _TOKEN.match(text, start)
        if name is None:
            return params, start
        equals = _skip(text, name.end(), " \t")
        if equals >= len(text) or text[equals] != "=":
            return params, start  # the scheme of the next challenge
        value, pos = _parse_value(text, _skip(text, equals + 1, " \t"))
        params.setdefault(name.group().lower(), value)


def _parse_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        chars: list[str] = []
        pos += 1
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
            chars.append(text[pos])
            pos += 1
        return "".join(chars), pos + 1
    end = pos
    while end < len(text) and text[end] not in ", \t":
        end += 1
    return text[pos:end], end


def repository_scope(repository: str) -> str:
    """The token scope for pulling from a repository."""
    return f"repository:{repository}:pull"


@dataclass(frozen=True, slots=True)
class BearerToken:
    value: Secret
    expires_at: float  # on the client's monotonic clock


def parse_token_response(body: bytes, *, now: float, where: Where) -> BearerToken:
    """Read a token server's answer: ``token`` or ``access_token``, ``expires_in``, ``issued_at``.

    The lifetime is counted from ``now`` (when the exchange completed) on our monotonic clock;
    ``issued_at`` is only type-checked because the server's wall clock may be skewed.

    Raises:
        BadResponseError: not a JSON object, no token, or fields of the wrong type.
    """
    document = where.json_object(body, "token response")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise where.error(BadResponseError, "token response has no token")
    expires_in = document.get("expires_in", DEFAULT_TOKEN_LIFETIME)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise where.error(BadResponseError, "token response has a non-numeric expires_in")
    if not isinstance(document.get("issued_at", ""), str):
        raise where.error(BadResponseError, "token response has a non-string issued_at")
    lifetime = max(DEFAULT_TOKEN_LIFETIME, float(expires_in))
    return BearerToken(Secret(token), now + lifetime)


class TokenCache:
    """Bearer tokens per (realm, service, scope), handed out until shortly before expiry."""

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, BearerToken] = {}

    def get(self, key: TokenKey, now: float) -> BearerToken | None:
        token = self._tokens.get(key)
        if token is not None and now >= token.expires_at - REFRESH_MARGIN:
            del self._tokens[key]
            return None
        return token

    def put(self, key: TokenKey, token: BearerToken) -> None:
        self._tokens[key] = token

    def drop(self, key: TokenKey) -> None:
        self._tokens.pop(key, None)


@dataclass(frozen=True, slots=True)
class SentAuthorization:
    """The ``Authorization`` header sent with a request, and which token it was."""

    header: Secret
    token_key: TokenKey | None = (
        None  # None for credentials sent as they are (Basic, registry token)
    )


class Authenticator:
    """Authentication state for one registry: its scheme, credentials and token cache."""

    def __init__(
        self,
        *,
        registry_url: httpx.URL,
        credentials: CredentialSource | None,
        fetch_token: TokenFetcher,
        clock: Callable[[], float],
    ) -> None:
        self._registry_url = registry_url
        self._credentials = credentials
        self._fetch_token = fetch_token
        self._clock = clock
        self._cache = TokenCache()
        self._bearer: tuple[str, str] | None = None  # (realm, service), once the registry said so
        self._basic = False
        self._scope_alias: dict[str, str] = {}  # our scope -> the scope the registry asked for
        self._no_oauth: set[str] = set()  # realms that answered the POST flow with 404
        self._last_credentials: Credentials | None = None
        self._recent_tokens: deque[str] = deque(maxlen=16)

    def __repr__(self) -> str:
        return f"Authenticator(registry_url={str(self._registry_url)!r})"

    async def up_front(self, scope: str | None, where: Where) -> SentAuthorization | None:
        """The authorization to send before any challenge, once the scheme is known."""
        if self._credentials is not None and isinstance(
            await self._load_credentials(where), RegistryToken
        ):
            return await self._static_authorization(where)
        if self._bearer is not None:
            realm, service = self._bearer
            wanted = self._scope_alias.get(scope, scope) if scope is not None else ""
            return await self._bearer_authorization((realm, service, wanted), False, where)
        if self._basic:
            return await self._static_authorization(where)
        return None

    async def answer(
        self,
        challenges: Sequence[Challenge],
        scope: str | None,
        sent: SentAuthorization | None,
        where: Where,
    ) -> SentAuthorization | None:
        """The authorization to retry a 401 with, or None if retrying cannot help.

        Raises:
            UnauthorizedError: Basic auth is required and no usable credentials are configured.
            CredentialsError: the credentials could not be loaded.
            RegistryError: the token request failed.
        """
        if sent is not None and sent.token_key is None:
            return None  # credentials sent as they are were refused: asking again cannot help
        bearer = next(
            (c for c in challenges if c.scheme == "bearer" and c.params.get("realm")), None
        )
        if bearer is not None:
            realm, service = bearer.params["realm"], bearer.params.get("service", "")
            self._bearer = (realm, service)
            wanted = bearer.params.get("scope") or scope or ""
            if scope is not None and wanted != scope:
                self._scope_alias[scope] = wanted
            key = (realm, service, wanted)
            stale = sent is not None and sent.token_key == key
            if stale:
                self._cache.drop(key)
            return await self._bearer_authorization(key, stale, where)
        if any(c.scheme == "basic" for c in challenges):
            self._basic = True
            return await self._static_authorization(where)
        return None

    def secrets(self) -> list[str]:
        """Every secret value that could be echoed back by a registry, for scrubbing."""
        found = list(self._recent_tokens) + secret_values(self._last_credentials)
        if isinstance(self._last_credentials, BasicCredentials):
            found.append(_basic_header(self._last_credentials).reveal().removeprefix("Basic "))
        return found

    async def _load_credentials(self, where: Where) -> Credentials | None:
        if self._credentials is None:
            return None
        try:
            self._last_credentials = await self._credentials.credentials()
        except CredentialsError as error:  # say which request needed them
            raise where.error(CredentialsError, error.message) from None
        return self._last_credentials

    async def _static_authorization(self, where: Where) -> SentAuthorization:
        credentials = await self._load_credentials(where)
        if isinstance(credentials, RegistryToken):
            return SentAuthorization(Secret(f"Bearer {credentials.token.reveal()}"))
        if isinstance(credentials, BasicCredentials):
            return SentAuthorization(_basic_header(credentials))
        if credentials is None:
            message = "registry requires Basic credentials and none are configured"
        else:
            message = "registry requires Basic credentials; an identity token cannot be sent so"
        raise where.error(UnauthorizedError, message)

    async def _bearer_authorization(
        self, key: TokenKey, fresh: bool, where: Where
    ) -> SentAuthorization:
        token = None if fresh else self._cache.get(key, self._clock())
        if token is None:
            token = await self._request_token(key, where)
            self._cache.put(key, token)
            self._recent_tokens.append(token.value.reveal())
        return SentAuthorization(Secret(f"Bearer {token.value.reveal()}"), key)

    async def _request_token(self, key: TokenKey, where: Where) -> BearerToken:
        realm, service, scope = key
        url = _realm_url(realm, where)
        credentials = await self._load_credentials(where)
        may_send = self._may_send_credentials(url)
        if isinstance(credentials, IdentityToken) and may_send and realm not in self._no_oauth:
            form = {
                "grant_type": "refresh_token",
                "client_id": OAUTH_CLIENT_ID,
                "refresh_token": credentials.token.reveal(),
            }
            form |= {"service": service} if service else {}
            form |= {"scope": scope} if scope else {}
            try:
                body = await self._fetch_token("POST", url, {}, form, where)
            except NotFoundError:
                _log.info("token_post_not_supported registry=%s realm=%s", where.registry, realm)
                self._no_oauth.add(realm)
            else:
                return parse_token_response(body, now=self._clock(), where=where)
        params = [("service", service)] if service else []
        params += [("scope", part) for part in scope.split()]
        headers: dict[str, str] = {}
        if isinstance(credentials, BasicCredentials) and may_send:
            headers["Authorization"] = _basic_header(credentials).reveal()
        body = await self._fetch_token(
            "GET", url.copy_merge_params(tuple(params)), headers, None, where
        )
        return parse_token_response(body, now=self._clock(), where=where)

    def _may_send_credentials(self, url: httpx.URL) -> bool:
        # A password goes in clear text only back to the registry's own host.
        return url.scheme == "https" or url.host == self._registry_url.host


def _realm_url(realm: str, where: Where) -> httpx.URL:
    try:
        url = httpx.URL(realm)
    except httpx.InvalidURL:
        raise where.error(BadResponseError, "bearer challenge has an invalid realm") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise where.error(BadResponseError, "bearer challenge realm is not an http(s) URL")
    return url


def _basic_header(credentials: BasicCredentials) -> Secret:
    pair = f"{credentials.username}:{credentials.password.reveal()}".encode()
    return Secret("Basic " + base64.b64encode(pair).decode("ascii"))
