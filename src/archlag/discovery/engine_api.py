"""The Docker Engine API (Docker, or Podman's Docker-compatible service) over a unix socket or
``tcp://``: GET requests whose JSON answers are read within a size and nesting bound.

Errors:

- :class:`EngineError`: the base; its message is safe to show (no secret: the API has none);
- :class:`EngineUnreachable`: no answer (the socket is missing, refused, timed out, or the
  answer was cut off);
- :class:`EngineAnswerError`: an answer that is not usable: an HTTP error status (``status``
  says which; 404 is a container or image that went away meanwhile), too large, not JSON.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from archlag.discovery.limits import ENGINE_TIMEOUT, MAX_JSON_DEPTH
from archlag.registry.bodies import ACCEPT_ENCODING, BodyError, read_body
from archlag.registry.jsonbody import JsonBodyError, loads


class EngineError(Exception):
    """The Engine API could not be used; see the module's docstring."""


class EngineUnreachable(EngineError):
    pass


class EngineAnswerError(EngineError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EngineClient:
    """One connection pool to one Engine API ``host`` (``unix:///run/docker.sock``,
    ``tcp://127.0.0.1:2375``); use it as an async context manager."""

    def __init__(
        self,
        host: str,
        *,
        timeout: float = ENGINE_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        if host.startswith("unix://"):
            base = "http://docker"  # the host name is not used over a socket
            transport = transport or httpx.AsyncHTTPTransport(uds=host.removeprefix("unix://"))
        else:
            base = "http://" + host.removeprefix("tcp://")
        self._client = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,  # a proxy from the environment has no business with a socket
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def get(self, path: str, limit: int, **params: str) -> Any:
        """The decoded JSON answer to ``GET path``.

        Raises:
            EngineUnreachable: no answer.
            EngineAnswerError: an error status, or an answer too large or not JSON.
        """
        try:
            async with self._client.stream("GET", path, params=params) as response:
                body = await read_body(response, limit)
        except httpx.TransportError as exc:
            raise EngineUnreachable(
                f"cannot reach {self.host}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        except BodyError as exc:
            raise EngineAnswerError(f"{path}: {exc}") from None
        if body is None:
            raise EngineAnswerError(f"{path}: the answer is larger than {limit} bytes")
        if response.status_code != httpx.codes.OK:
            raise EngineAnswerError(
                f"{path}: HTTP {response.status_code}{_message(body)}", response.status_code
            )
        try:
            return loads(body, max_bytes=limit, max_depth=MAX_JSON_DEPTH)
        except JsonBodyError as exc:
            raise EngineAnswerError(f"{path}: the answer {exc}") from None


def object_path(kind: str, name: str) -> str:
    """``/containers/<id>/json`` or ``/images/<id>/json``, the name escaped."""
    return f"/{kind}/{quote(name, safe='')}/json"


def _message(body: bytes) -> str:
    """The ``message`` of an Engine API error body, short and on one line, if there is one."""
    try:
        message = loads(body[:4096], max_bytes=4096).get("message")
    except (JsonBodyError, AttributeError):
        return ""
    if not isinstance(message, str):
        return ""
    return ": " + "".join(c if c.isprintable() else " " for c in message[:200])
