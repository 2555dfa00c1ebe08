"""Errors raised by the registry client, and how HTTP answers map onto them.

The tree::

    RegistryError                  result "error"         base class; catch this one
    ├── NotFoundError              result "not_found"     404, MANIFEST_UNKNOWN / NAME_UNKNOWN
    ├── UnauthorizedError          result "unauthorized"  401 after an auth attempt, 403 / DENIED
    │   └── CredentialsError       result "unauthorized"  credentials could not be loaded (docker
    │                                                     config unreadable, helper missing/failing)
    │                                                     or cannot be sent (a control character,
    │                                                     such as a secret file's newline)
    ├── RateLimitedError           result "rate_limited"  429; ``retry_after`` in seconds or None
    ├── ServerError                result "server_error"  5xx (after retries)
    ├── RegistryTimeoutError       result "timeout"       connect/read/total timeout (after retries)
    ├── BadResponseError           result "error"         the answer cannot be used; see below
    │   └── UnsupportedManifestError result "error"       well-formed but unsupported; ``reason`` is
    │                                                     one of :data:`UNSUPPORTED_REASONS`
    └── RegistryConnectionError    result "error"         connection refused, DNS, TLS (retried)

:class:`BadResponseError` covers everything a registry sent that archlag refuses: a body that is
not JSON, not UTF-8, larger than its limit or nested too deeply (:mod:`~archlag.registry.jsonbody`);
fields of the wrong type; a digest mismatch; a header value that fails validation
(Docker-Content-Digest, a bearer challenge without a usable realm); a URL that cannot be built
from what the registry sent (``httpx.InvalidURL``, a realm such as ``http://[::1``, a ``Link``
target); a tag listing cut short (a ``Link`` to another origin, one that cannot be parsed or that
loops) or larger than its caps; a token that cannot be sent in a header; any other 4xx. No
``httpx`` exception, ``RecursionError``, ``KeyError`` or ``TypeError`` escapes the client.

``RateLimitedError`` is also raised without any request being sent while the client backs off
after a 429 (see :mod:`archlag.registry.ratelimit`).

Every error carries the registry name and, where relevant, the repository and reference, and its
``result`` is one of :data:`RESULTS`, a bounded set suitable as a metric label value. Messages
never contain credentials or tokens: text that comes from a registry is untrusted, so it is
shortened, stripped of control characters and scrubbed of every known secret (in every printed
form, see :func:`archlag.secrets.scrub`) before use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from archlag.core.outcomes import UNSUPPORTED_REASONS
from archlag.registry import jsonbody
from archlag.registry.caps import LimitCounter
from archlag.secrets import scrub

_MAX_DETAIL = 200
MAX_ERROR_BODY_BYTES = 64 << 10  # longer error bodies are not read for a message
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")

E = TypeVar("E", bound="RegistryError")


@dataclass(frozen=True, slots=True)
class Where:
    """What a request was about, so that errors can say it."""

    registry: str
    repository: str | None = None
    reference: str | None = None
    # where to count the caps hit while serving the request (the client's counter)
    limits: LimitCounter | None = field(default=None, compare=False, repr=False)

    def hit(self, limit: str) -> None:
        """Count one hit of ``limit`` (a key of :data:`~archlag.core.outcomes.LIMITS`)."""
        if self.limits is not None:
            self.limits.hit(limit)

    def error(self, cls: type[E], message: str) -> E:
        return cls(
            message, registry=self.registry, repository=self.repository, reference=self.reference
        )

    def json_object(self, body: bytes, what: str) -> dict[str, Any]:
        """``body`` parsed as a JSON object, within the limits of :mod:`.jsonbody`.

        Raises:
            BadResponseError: too large, too deep, not JSON, or not an object.
        """
        try:
            document = jsonbody.loads(body)
        except jsonbody.JsonBodyError as exc:
            if exc.limit is not None:
                self.hit(exc.limit)
            raise self.error(BadResponseError, f"{what} {exc}") from None
        if not isinstance(document, dict):
            raise self.error(BadResponseError, f"{what} is not a JSON object")
        return document

    def unsupported(
        self, reason: str, message: str, digest: str | None = None
    ) -> UnsupportedManifestError:
        return UnsupportedManifestError(
            message,
            reason=reason,
            registry=self.registry,
            repository=self.repository,
            reference=self.reference,
            digest=digest,
        )


class RegistryError(Exception):
    """A registry request failed; ``result`` is the bounded label value for metrics."""

    result: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        registry: str,
        repository: str | None = None,
        reference: str | None = None,
    ) -> None:
        self.message = message
        self.registry = registry
        self.repository = repository
        self.reference = reference
        context = f"registry={registry}"
        if repository is not None:
            context += f" repository={repository}"
        if reference is not None:
            context += f" reference={reference}"
        super().__init__(f"{context}: {message}")


class NotFoundError(RegistryError):
    """The repository, tag, manifest or blob does not exist (404)."""

    result: ClassVar[str] = "not_found"


class UnauthorizedError(RegistryError):
    """Authentication failed or access was denied (401 after an auth attempt, 403)."""

    result: ClassVar[str] = "unauthorized"


class RateLimitedError(RegistryError):
    """The registry throttled us (429). ``retry_after`` is what it asked for, in seconds."""

    result: ClassVar[str] = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        registry: str,
        repository: str | None = None,
        reference: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, registry=registry, repository=repository, reference=reference)
        self.retry_after = retry_after


class CredentialsError(UnauthorizedError):
    """Credentials could not be loaded: unreadable docker config, failing credential helper.

    The message names the file or helper and what went wrong, never a secret or helper output.
    """


class ServerError(RegistryError):
    """The registry answered with a 5xx status, also after retries."""

    result: ClassVar[str] = "server_error"


class RegistryTimeoutError(RegistryError):
    """The registry did not answer in time, also after retries."""

    result: ClassVar[str] = "timeout"


class BadResponseError(RegistryError):
    """The answer cannot be used: malformed, unsupported, too large, or the wrong digest."""


class UnsupportedManifestError(BadResponseError):
    """A well-formed manifest archlag cannot read; ``reason`` is in :data:`UNSUPPORTED_REASONS`.

    ``digest`` is the refused manifest's digest when the registry gave it (a ``HEAD`` that
    already shows a schema 1 media type), so that a caller can remember the refusal.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        registry: str,
        repository: str | None = None,
        reference: str | None = None,
        digest: str | None = None,
    ) -> None:
        if reason not in UNSUPPORTED_REASONS:
            raise ValueError(f"unknown unsupported-manifest reason {reason!r}")
        super().__init__(message, registry=registry, repository=repository, reference=reference)
        self.reason = reason
        self.digest = digest


class RegistryConnectionError(RegistryError):
    """No HTTP exchange happened: connection refused, DNS failure, TLS error..."""


def sanitize(text: str, secrets: Iterable[str] = ()) -> str:
    """Make untrusted text safe for a message: no secrets, printable, short.

    Masked are ``secrets`` and every live :class:`~archlag.secrets.Secret`, in every form
    :func:`archlag.secrets.scrub` knows (escaped, URL-encoded, base64...).
    """
    text = scrub(text, secrets)
    text = _UNPRINTABLE.sub(" ", text).strip()
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return text


def describe_error_body(body: bytes) -> str:
    """``CODE: message`` from an OCI error body ``{"errors": [...]}``, or "" if there is none.

    The body is untrusted: anything unexpected (including a body over 64 KiB or nested too
    deeply) yields "", and callers must :func:`sanitize`.
    """
    try:
        document = jsonbody.loads(body, max_bytes=MAX_ERROR_BODY_BYTES)
    except jsonbody.JsonBodyError:
        return ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    code, message = errors[0].get("code"), errors[0].get("message")
    parts = [part for part in (code, message) if isinstance(part, str) and part]
    return ": ".join(parts)


def error_for_status(
    status: int,
    detail: str,
    where: Where,
    *,
    action: str = "",
    retry_after: float | None = None,
) -> RegistryError:
    """The error for a non-success HTTP status; ``detail`` must already be sanitised."""
    message = f"{action}: " if action else ""
    message += f"HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return RateLimitedError(
            message,
            registry=where.registry,
            repository=where.repository,
            reference=where.reference,
            retry_after=retry_after,
        )
    cls: type[RegistryError] = BadResponseError
    if status == 404:
        cls = NotFoundError
    elif status in (401, 403):
        cls = UnauthorizedError
    elif status >= 500:
        cls = ServerError
    return where.error(cls, message)


def result_for_status(status: int) -> str:
    """The :data:`RESULTS` label for an HTTP status."""
    if 200 <= status < 300:
        return "ok"
    return error_for_status(status, "", Where("")).result
