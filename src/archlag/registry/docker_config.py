"""Credentials from a Docker ``config.json``, the way ``docker login`` leaves them.

Lookup for one registry host, as the Docker CLI does it:

1. ``credHelpers[host]``, else ``credsStore``: run ``docker-credential-<name> get`` with the
   server URL on stdin and read ``{"Username": ..., "Secret": ...}`` from stdout. User name
   ``<token>`` means the secret is an identity token. A helper that answers "credentials not
   found in native keychain" means: none there, so step 2 decides.
2. ``auths``: the entry whose key names the host. Keys may be URLs (``https://ghcr.io/v1/``);
   scheme and path are ignored. Docker Hub is ``docker.io`` and is also found under
   ``https://index.docker.io/v1/``, ``index.docker.io`` and ``registry-1.docker.io``. In an entry,
   ``identitytoken`` wins over ``registrytoken``, which wins over ``auth`` (base64 of
   ``user:password``), which wins over ``username``/``password``.

Results are cached for :data:`CACHE_SECONDS` so that a helper is not run per request; failures
for :data:`FAILURE_CACHE_SECONDS`. Every failure is a
:class:`~archlag.registry.errors.CredentialsError` whose message names the file or helper and
never contains a secret or anything the helper printed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from archlag.registry.credentials import BasicCredentials, Credentials, IdentityToken, RegistryToken
from archlag.registry.errors import CredentialsError
from archlag.secrets import Secret

CACHE_SECONDS = 300.0
FAILURE_CACHE_SECONDS = 30.0  # a broken helper is not run again on every request
HELPER_TIMEOUT = 10.0
MAX_CONFIG_BYTES = 1 << 20
MAX_HELPER_OUTPUT = 64 << 10
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
IDENTITY_TOKEN_USER = "<token>"  # noqa: S105 - the helper protocol's marker, not a secret

HelperRunner = Callable[[str, str], Awaitable[bytes]]  # (program, server URL) -> stdout

_log = logging.getLogger(__name__)
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_NOT_FOUND_MESSAGE = b"credentials not found in native keychain"


class HelperError(Exception):
    """A credential helper failed; the message is safe to show (no output, no secrets)."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


async def run_credential_helper(program: str, server_url: str) -> bytes:
    """Run ``program get`` with ``server_url`` on stdin and return its stdout.

    Raises:
        HelperError: the program is missing, fails, or takes longer than
            :data:`HELPER_TIMEOUT`; ``not_found`` is set if it has no credentials for the server.
    """
    try:
        with anyio.fail_after(HELPER_TIMEOUT):
            returncode, stdout = await _run(program, server_url.encode())
    except FileNotFoundError:
        raise HelperError(f"credential helper {program} not found on PATH") from None
    except TimeoutError:
        raise HelperError(
            f"credential helper {program} did not answer within {HELPER_TIMEOUT:g} s"
        ) from None
    except OSError as exc:
        raise HelperError(f"credential helper {program} cannot run: {exc.strerror}") from None
    if returncode != 0:
        if _NOT_FOUND_MESSAGE in stdout:
            raise HelperError(f"{program} has no credentials", not_found=True)
        raise HelperError(f"credential helper {program} exited with status {returncode}")
    return stdout


async def _run(program: str, stdin: bytes) -> tuple[int, bytes]:
    """Exit status and (bounded) stdout; stderr is discarded, it is never shown anyway."""
    async with await anyio.open_process(
        [program, "get"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        try:  # a helper may exit without reading its input
            await process.stdin.send(stdin)
            await process.stdin.aclose()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        chunks: list[bytes] = []
        size = 0
        async for chunk in process.stdout:
            if size < MAX_HELPER_OUTPUT:
                chunks.append(chunk)
            size += len(chunk)
        return await process.wait(), b"".join(chunks)[:MAX_HELPER_OUTPUT]


def canonical_host(key: str) -> str:
    """The registry host a config key or registry name stands for (docker.io for Hub aliases)."""
    host = _SCHEME.sub("", key.strip().lower()).split("/", 1)[0]
    return "docker.io" if host in DOCKER_HUB_HOSTS else host


class DockerConfigCredentials:
    """A :class:`~archlag.registry.credentials.CredentialSource` reading a Docker config file."""

    def __init__(
        self,
        path: Path,
        registry: str,
        *,
        run_helper: HelperRunner = run_credential_helper,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.registry = registry
        self._host = canonical_host(registry)
        self._run_helper = run_helper
        self._clock = clock
        self._lock = anyio.Lock()
        self._cached: Credentials | None = None
        self._failure: str | None = None
        self._valid_until: float | None = None

    def __repr__(self) -> str:
        return f"DockerConfigCredentials(path={str(self.path)!r}, registry={self.registry!r})"

    async def credentials(self) -> Credentials | None:
        """The credentials for the registry (cached), or None for anonymous access.

        Raises:
            CredentialsError: the file or the helper could not be used.
        """
        async with self._lock:
            if self._valid_until is None or self._clock() >= self._valid_until:
                await self._refresh()
            if self._failure is not None:
                raise CredentialsError(self._failure, registry=self.registry)
            return self._cached

    async def _refresh(self) -> None:
        try:
            self._cached, self._failure = await self._load(), None
            self._valid_until = self._clock() + CACHE_SECONDS
        except CredentialsError as error:
            _log.warning("credentials_failed registry=%s reason=%r", self.registry, error.message)
            self._cached, self._failure = None, error.message
            self._valid_until = self._clock() + FAILURE_CACHE_SECONDS

    async def _load(self) -> Credentials | None:
        document = await self._read()
        helper = self._helper(document)
        if helper is not None:
            found = await self._ask_helper(helper)
            if found is not None:
                return found
        found = self._from_auths(document)
        _log.debug(
            "credentials_loaded registry=%s kind=%s",
            self.registry,
            type(found).__name__ if found else "anonymous",
        )
        return found

    def _fail(self, message: str) -> CredentialsError:
        return CredentialsError(f"docker config {self.path}: {message}", registry=self.registry)

    async def _read(self) -> dict[str, Any]:
        try:
            raw = await anyio.Path(self.path).read_bytes()
        except OSError as exc:
            raise self._fail(f"cannot read it ({exc.strerror or type(exc).__name__})") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise self._fail(f"larger than {MAX_CONFIG_BYTES} bytes")
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise self._fail(f"not valid JSON (line {exc.lineno})") from None
        except (ValueError, RecursionError):
            raise self._fail("not valid JSON") from None
        if not isinstance(document, dict):
            raise self._fail("not a JSON object")
        return document

    def _helper(self, document: Mapping[str, Any]) -> str | None:
        helpers = _object(document.get("credHelpers"), "credHelpers", self._fail)
        name = next(
            (v for k, v in helpers.items() if canonical_host(k) == self._host),
            document.get("credsStore"),
        )
        if name is None or name == "":
            return None
        if not isinstance(name, str) or not _HELPER_NAME.fullmatch(name):
            raise self._fail(f"credential helper name for {self._host} is not a plain name")
        return f"docker-credential-{name}"

    async def _ask_helper(self, program: str) -> Credentials | None:
        server_url = DOCKER_HUB_KEY if self._host == "docker.io" else self._host
        try:
            output = await self._run_helper(program, server_url)
        except HelperError as error:
            if error.not_found:
                return None
            raise self._fail(str(error)) from None
        try:
            answer = json.loads(output)
        except (ValueError, UnicodeDecodeError, RecursionError):
            answer = None
        username = answer.get("Username") if isinstance(answer, dict) else None
        secret = answer.get("Secret") if isinstance(answer, dict) else None
        if not isinstance(username, str) or not isinstance(secret, str):
            raise self._fail(f"{program} did not answer with a JSON {{Username, Secret}} object")
        if not secret:
            return None
        if username == IDENTITY_TOKEN_USER:
            return IdentityToken(Secret(secret))
        return BasicCredentials(username, Secret(secret))

    def _from_auths(self, document: Mapping[str, Any]) -> Credentials | None:
        auths = _object(document.get("auths"), "auths", self._fail)
        for key, entry in auths.items():
            if canonical_host(key) != self._host:
                continue
            found = self._entry(_object(entry, f"auths entry {key!r}", self._fail), key)
            if found is not None:
                return found
        return None

    def _entry(self, entry: Mapping[str, Any], key: str) -> Credentials | None:
        fields = {}
        for name in ("identitytoken", "registrytoken", "auth", "username", "password"):
            value = entry.get(name)
            if value is not None and not isinstance(value, str):
                raise self._fail(f"{name!r} of auths entry {key!r} is not a string")
            fields[name] = value or ""
        if fields["identitytoken"]:
            return IdentityToken(Secret(fields["identitytoken"]))
        if fields["registrytoken"]:
            return RegistryToken(Secret(fields["registrytoken"]))
        if fields["auth"]:
            try:
                pair = base64.b64decode(fields["auth"], validate=True).decode()
            except (binascii.Error, ValueError):
                pair = ""
            username, colon, password = pair.partition(":")
            if not colon or not username:
                raise self._fail(f"'auth' of auths entry {key!r} is not base64 of user:password")
            return BasicCredentials(username, Secret(password))
        if fields["username"] and fields["password"]:
            return BasicCredentials(fields["username"], Secret(fields["password"]))
        return None


def _object(value: object, what: str, fail: Callable[[str], CredentialsError]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(f"{what} is not a JSON object")
    return value
