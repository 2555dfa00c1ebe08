"""Registry authentication: answering ``WWW-Authenticate`` challenges with credentials or tokens.

A registry answers 401 with one or more challenges (parsed by :mod:`~archlag.registry.challenges`).
``Bearer`` means: fetch a token from the challenge's ``realm`` (with ``service`` and ``scope``),
then retry with it; ``Basic`` means: send the configured user name and password.
:class:`Authenticator` keeps that state for one registry and caches tokens per (realm, service,
scope) (see :mod:`~archlag.registry.tokens`). It does no HTTP itself: the client hands it a
token fetcher that goes through the same retries and error mapping as every other request.

How each kind of credentials (:mod:`archlag.registry.credentials`) is used:

- Basic: sent to a Basic registry, and as Basic to the token server (``GET <realm>``), the
  latter only to the registry's own origin (scheme, host and port) or to a realm over https.
- Identity token: ``POST <realm>`` with ``grant_type=refresh_token`` (OAuth2 form), under the
  same rule; a token server that answers that with 404 gets an anonymous ``GET`` instead, from
  then on.
- Registry token: sent as ``Authorization: Bearer <token>`` with every request; no token server.

Credentials that cannot be sent as they are (a control character such as a secret file's
trailing newline, a registry token that is not visible ASCII) raise
:class:`~archlag.registry.errors.CredentialsError` before anything is sent.

State heals: only a challenge that yielded a token is remembered. A bad realm (``ftp://...``,
``http://[::1``, empty), a failed token request or a garbage token fails that request alone, and
the next request starts again from the registry's challenge; refused Basic credentials are
likewise not sent up front again until a challenge asks for them.

Passwords and tokens are held as :class:`~archlag.secrets.Secret` and never appear in reprs or
messages; :meth:`Authenticator.secrets` lists them so that the client can scrub untrusted text.
"""

from __future__ import annotations

import base64
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from archlag.registry.challenges import Challenge, parse_challenges
from archlag.registry.credentials import (
    BasicCredentials,
    Credentials,
    CredentialSource,
    IdentityToken,
    RegistryToken,
    secret_values,
    unsendable,
)
from archlag.registry.errors import (
    BadResponseError,
    CredentialsError,
    NotFoundError,
    RegistryError,
    UnauthorizedError,
    Where,
)
from archlag.registry.links import same_origin
from archlag.registry.tokens import BearerToken, TokenCache, TokenKey, parse_token_response
from archlag.secrets import Secret

__all__ = ["Authenticator", "Challenge", "SentAuthorization", "parse_challenges"]

OAUTH_CLIENT_ID = "archlag"
MAX_REALM_LENGTH = 2048
MAX_REMEMBERED_REALMS = 64  # realms known not to speak the OAuth2 POST flow

# (method, url, headers, form fields or None, where) -> body of a 2xx answer; errors raise.
TokenFetcher = Callable[
    [str, httpx.URL, Mapping[str, str], Mapping[str, str] | None, Where], Awaitable[bytes]
]

_log = logging.getLogger(__name__)


def repository_scope(repository: str) -> str:
    """The token scope for pulling from a repository."""
    return f"repository:{repository}:pull"


@dataclass(frozen=True, slots=True)
class SentAuthorization:
    """The ``Authorization`` header sent with a request, and which token it was."""

    header: Secret
    # None for credentials sent as they are (Basic, registry token)
    token_key: TokenKey | None = None


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
        self._bearer: tuple[str, str] | None = None  # (realm, service) that last gave a token
        self._basic = False
        self._scope_alias: dict[str, str] = {}  # our scope -> the scope the registry asked for
        self._no_oauth: set[str] = set()  # realms that answered the POST flow with 404
        self._last_credentials: Credentials | None = None
        # kept alive, so that the log scrubber still knows tokens that left the cache
        self._recent_tokens: deque[Secret] = deque(maxlen=16)

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
            try:
                return await self._bearer_authorization((realm, service, wanted), False, where)
            except RegistryError:
                self._bearer = None  # the next request starts again from the challenge
                self._scope_alias.clear()
                raise
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
            CredentialsError: the credentials could not be loaded or cannot be sent.
            BadResponseError: a bearer challenge without a usable realm, a token server that
                answered 404 or a token that cannot be used.
            RegistryError: the token request failed.
        """
        if sent is not None and sent.token_key is None:
            self._basic = False  # refused: not sent up front again until a challenge asks
            return None  # credentials sent as they are were refused: asking again cannot help
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None:
            realm, service = bearer.params.get("realm", ""), bearer.params.get("service", "")
            realm_url(realm, where)  # refuse a bad realm before anything is remembered
            wanted = bearer.params.get("scope") or scope or ""
            key = (realm, service, wanted)
            stale = sent is not None and sent.token_key == key
            if stale:
                self._cache.drop(key)
            authorization = await self._bearer_authorization(key, stale, where)
            self._bearer = (realm, service)
            if scope is not None and wanted != scope:
                self._scope_alias[scope] = wanted
            return authorization
        if any(c.scheme == "basic" for c in challenges):
            self._basic = True
            return await self._static_authorization(where)
        return None

    def secrets(self) -> list[str]:
        """Every secret value that could be echoed back by a registry, for scrubbing."""
        found = [token.reveal() for token in self._recent_tokens]
        found += secret_values(self._last_credentials)
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
        problem = unsendable(self._last_credentials)
        if problem is not None:
            raise where.error(CredentialsError, problem)
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
            self._cache.put(key, token, self._clock())
            self._recent_tokens.append(token.value)
        return SentAuthorization(Secret(f"Bearer {token.value.reveal()}"), key)

    async def _request_token(self, key: TokenKey, where: Where) -> BearerToken:
        realm, service, scope = key
        url = realm_url(realm, where)
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
                if len(self._no_oauth) < MAX_REMEMBERED_REALMS:
                    self._no_oauth.add(realm)
            else:
                return parse_token_response(body, now=self._clock(), where=where)
        params = [("service", service)] if service else []
        params += [("scope", part) for part in scope.split()]
        headers: dict[str, str] = {}
        if isinstance(credentials, BasicCredentials) and may_send:
            headers["Authorization"] = _basic_header(credentials).reveal()
        try:
            body = await self._fetch_token(
                "GET", url.copy_merge_params(tuple(params)), headers, None, where
            )
        except NotFoundError:
            # The realm the registry named serves no tokens: a broken or moved token server, not
            # a missing repository (whose tags would leave the view) nor refused credentials.
            raise where.error(
                BadResponseError, "token server answered 404: the realm serves no tokens"
            ) from None
        return parse_token_response(body, now=self._clock(), where=where)

    def _may_send_credentials(self, url: httpx.URL) -> bool:
        # In clear text a secret goes back to the registry's own origin only, never to another
        # port of its host (that may be another service, or another user's).
        return url.scheme == "https" or same_origin(url, self._registry_url)


def realm_url(realm: str, where: Where) -> httpx.URL:
    """The token server's URL named by a bearer challenge.

    Raises:
        BadResponseError: the realm is missing, too long, not a URL, not http(s), without a
            host, or with a user name in it.
    """
    if not realm:
        where.hit("bad_header")
        raise where.error(BadResponseError, "bearer challenge has no realm")
    try:
        url = httpx.URL(realm) if len(realm) <= MAX_REALM_LENGTH else None
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.userinfo:
        where.hit("bad_url")
        raise where.error(BadResponseError, "bearer challenge realm is not a usable http(s) URL")
    return url


def _basic_header(credentials: BasicCredentials) -> Secret:
    pair = f"{credentials.username}:{credentials.password.reveal()}".encode()
    return Secret("Basic " + base64.b64encode(pair).decode("ascii"))
