"""Bearer tokens from token servers: reading their answers, and caching them.

A token server answers ``{"token": ..., "expires_in": ..., "issued_at": ...}`` (or
``access_token``, the OAuth2 name). :func:`parse_token_response` reads it as untrusted input: the
token must be sendable in a header as it is (visible ASCII, at most 16 KiB; anything else is a
garbage token, refused and counted as ``bad_token``), and its lifetime is clamped between
:data:`DEFAULT_TOKEN_LIFETIME` and :data:`MAX_TOKEN_LIFETIME`. :class:`TokenCache` holds at most
:data:`MAX_CACHED_TOKENS` tokens, so that a registry naming a new realm or service in every
challenge cannot make it grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlag.registry.errors import BadResponseError, Where
from archlag.registry.headers import is_header_token
from archlag.secrets import Secret

DEFAULT_TOKEN_LIFETIME = 60.0  # seconds; the token spec's default and minimum
MAX_TOKEN_LIFETIME = 86400.0  # a longer promise is not believed: refetched after a day
REFRESH_MARGIN = 10.0  # seconds before expiry at which a cached token is no longer used
MAX_CACHED_TOKENS = 256

TokenKey = tuple[str, str, str]  # (realm, service, scope)


@dataclass(frozen=True, slots=True)
class BearerToken:
    value: Secret
    expires_at: float  # on the client's monotonic clock


def parse_token_response(body: bytes, *, now: float, where: Where) -> BearerToken:
    """Read a token server's answer: ``token`` or ``access_token``, ``expires_in``, ``issued_at``.

    The lifetime is counted from ``now`` (when the exchange completed) on our monotonic clock;
    ``issued_at`` is only type-checked because the server's wall clock may be skewed.

    Raises:
        BadResponseError: not a JSON object, no token, a token that cannot be sent in a header,
            or fields of the wrong type.
    """
    document = where.json_object(body, "token response")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise where.error(BadResponseError, "token response has no token")
    if not is_header_token(token):
        where.hit("bad_token")
        raise where.error(
            BadResponseError,
            "token response has a token that cannot be sent in a header (it must be visible "
            "ASCII without spaces, at most 16 KiB)",
        )
    expires_in = document.get("expires_in", DEFAULT_TOKEN_LIFETIME)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise where.error(BadResponseError, "token response has a non-numeric expires_in")
    if not isinstance(document.get("issued_at", ""), str):
        raise where.error(BadResponseError, "token response has a non-string issued_at")
    # compared before float(): an integer of 400 digits is valid JSON but overflows a float
    lifetime = float(min(max(expires_in, DEFAULT_TOKEN_LIFETIME), MAX_TOKEN_LIFETIME))
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

    def put(self, key: TokenKey, token: BearerToken, now: float) -> None:
        self._tokens.pop(key, None)
        if len(self._tokens) >= MAX_CACHED_TOKENS:
            self._tokens = {k: t for k, t in self._tokens.items() if now < t.expires_at}
        while len(self._tokens) >= MAX_CACHED_TOKENS:
            del self._tokens[next(iter(self._tokens))]  # the oldest
        self._tokens[key] = token

    def drop(self, key: TokenKey) -> None:
        self._tokens.pop(key, None)
