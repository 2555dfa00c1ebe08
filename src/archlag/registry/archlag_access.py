"""How archlag reaches another archlag's HTTP API: a peer shard (``--shard.peers``, for
``/api/v1/state``) or the server ``archlag check/wait --server`` asks (``/api/v1/tags``).

That archlag may serve TLS and want Basic credentials (its ``--web.config.file``). The
credentials come from a file, never a flag value (a flag is visible in ``ps`` and in a pod
spec): one line ``user:password``, one trailing newline removed, as mounted secrets end. The CA
file is the PEM bundle that signs that archlag's certificate; without it the system's CAs are
trusted. :func:`load_access` reads both at start and raises :class:`AccessError`, whose message
names the flag and never a value. The password is held as a
:class:`~archlag.registry.credentials.BasicCredentials`, so every printed form of it (the
base64 of the Basic header too) is masked in logs and errors.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from archlag.config.secrets_reader import SecretProblem, read_secret
from archlag.config.settings import SecretRef
from archlag.registry.credentials import BasicCredentials
from archlag.secrets import Secret


class AccessError(ValueError):
    """A credentials or CA file that cannot be used; the message never holds a value."""


@dataclass(frozen=True, slots=True)
class ArchlagAccess:
    credentials: BasicCredentials | None = None
    verify: ssl.SSLContext | None = None  # None: the system's CAs

    def client_options(self) -> dict[str, Any]:
        """``auth`` and ``verify`` for an :class:`httpx.AsyncClient`."""
        options: dict[str, Any] = {}
        if self.credentials is not None:
            password = self.credentials.password.reveal()
            options["auth"] = httpx.BasicAuth(self.credentials.username, password)
        if self.verify is not None:
            options["verify"] = self.verify
        return options


def load_access(credentials_file: str | None, ca_file: str | None, flag: str) -> ArchlagAccess:
    """Read ``FLAG.credentials-file`` and ``FLAG.ca-file`` (either may be None).

    Raises:
        AccessError: a file cannot be read, is not ``user:password``, or holds no PEM
            certificate that can be loaded.
    """
    credentials = None
    if credentials_file is not None:
        try:
            line = read_secret(SecretRef("password_file", credentials_file), {}).reveal()
        except SecretProblem as exc:
            raise AccessError(f"{flag}.credentials-file: {exc}") from None
        user, colon, password = line.partition(":")
        if not (user and colon and password):
            raise AccessError(f"{flag}.credentials-file: must hold one line user:password")
        credentials = BasicCredentials(user, Secret(password))
    verify = None
    if ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=Path(ca_file))
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
            raise AccessError(
                f"{flag}.ca-file: cannot be read as PEM certificates ({reason})"
            ) from None
    return ArchlagAccess(credentials, verify)
