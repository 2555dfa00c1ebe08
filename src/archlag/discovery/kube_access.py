"""How to reach a Kubernetes API server: the pod's service account, or a kubeconfig file.

- :func:`in_cluster`: ``KUBERNETES_SERVICE_HOST`` and ``_PORT``, with the token, CA and
  namespace under ``/var/run/secrets/kubernetes.io/serviceaccount``;
- :func:`from_kubeconfig`: the ``current-context``'s cluster (``server``,
  ``certificate-authority(-data)``, ``insecure-skip-tls-verify``) and user (``token``,
  ``tokenFile``, ``client-certificate(-data)`` with ``client-key(-data)``); relative paths are
  relative to the kubeconfig's folder; ``http://`` servers are accepted (for tests).
  ``exec`` and ``auth-provider`` plugins need a binary archlag does not run: refused.

A token file is read again every
:data:`~archlag.discovery.limits.TOKEN_REREAD_SECONDS` and after a 401 (the kubelet rotates bound
tokens in place), never only once. Tokens are held in :class:`~archlag.secrets.Secret`, so no log
line or message shows them. Both functions raise only :class:`KubeAccessError`.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlag.config.settings import ConfigError
from archlag.config.yaml_source import load_documents
from archlag.discovery.limits import MAX_KUBECONFIG_BYTES, MAX_TOKEN_BYTES, TOKEN_REREAD_SECONDS
from archlag.secrets import Secret

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeAccessError(Exception):
    """The API server's address or credentials cannot be had; the message says why."""


class TokenSource:
    """A bearer token, given or read from a file that may be rotated under archlag."""

    def __init__(
        self,
        *,
        token: Secret | None = None,
        path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token, self._path, self._clock = token, path, clock
        self._read_at: float | None = None

    def current(self) -> Secret | None:
        """The token to send now (the file is read again when it is due).

        Raises:
            KubeAccessError: the token file cannot be read.
        """
        due = self._read_at is None or self._clock() - self._read_at >= TOKEN_REREAD_SECONDS
        if self._path is not None and due:
            self._token = Secret(_read_small(self._path, MAX_TOKEN_BYTES, "token file").strip())
            self._read_at = self._clock()
        return self._token

    def refused(self) -> bool:
        """The server refused the token: read the file again at the next request. True if
        there is a file to read again (a static token stays refused)."""
        self._read_at = None
        return self._path is not None


@dataclass(frozen=True, slots=True)
class KubeAccess:
    server: str  # https://host:port (http:// only from a kubeconfig, for tests)
    tls: ssl.SSLContext | None  # None for http://
    token: TokenSource | None
    where: str  # "in-cluster service account" or "kubeconfig PATH", for messages


def in_cluster(
    environ: Mapping[str, str] | None = None, account: Path = SERVICE_ACCOUNT
) -> KubeAccess:
    """The pod's own service account.

    Raises:
        KubeAccessError: not in a cluster (no ``KUBERNETES_SERVICE_HOST``), or no CA file.
    """
    environ = os.environ if environ is None else environ
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeAccessError(
            "not running in a cluster (KUBERNETES_SERVICE_HOST is not set): set "
            "discovery.kubernetes.kubeconfig"
        )
    host = f"[{host}]" if ":" in host else host
    tls = _tls(cafile=account / "ca.crt", cadata=None, insecure=False)
    return KubeAccess(
        f"https://{host}:{port}", tls, TokenSource(path=account / "token"),
        "in-cluster service account",
    )  # fmt: skip


def from_kubeconfig(path: Path) -> KubeAccess:
    """The current context of a kubeconfig file.

    Raises:
        KubeAccessError: the file cannot be read or is not a kubeconfig, its context, cluster or
            user is missing, its files cannot be read, or it needs an exec plugin.
    """
    text = _read_small(path, MAX_KUBECONFIG_BYTES, "kubeconfig")
    try:
        documents = load_documents(text, str(path), 1)
    except ConfigError as exc:
        raise KubeAccessError(f"{path}: {exc.issues[0].message}") from None
    config = documents[0] if documents else None
    if not isinstance(config, dict):
        raise KubeAccessError(f"{path} is not a kubeconfig")
    context = _named(config, "contexts", "context", config.get("current-context"), path)
    cluster = _named(config, "clusters", "cluster", context.get("cluster"), path)
    user = _named(config, "users", "user", context.get("user"), path, required=False)
    return _Kubeconfig(path).access(cluster, user)


class _Kubeconfig:
    def __init__(self, path: Path) -> None:
        self.path, self.folder = path, path.parent

    def access(self, cluster: dict[str, Any], user: dict[str, Any]) -> KubeAccess:
        server = cluster.get("server")
        if not isinstance(server, str) or not server.startswith(("https://", "http://")):
            raise KubeAccessError(f"{self.path}: the cluster has no https:// server")
        for plugin in ("exec", "auth-provider"):
            if plugin in user:
                raise KubeAccessError(
                    f"{self.path}: the user needs an {plugin} plugin, which archlag does not "
                    "run: give it a token, a tokenFile or a client certificate"
                )
        tls = None
        if server.startswith("https://"):
            tls = _tls(
                cafile=self.file(cluster.get("certificate-authority")),
                cadata=self.data(cluster.get("certificate-authority-data"), "CA"),
                insecure=cluster.get("insecure-skip-tls-verify") is True,
            )
            self.client_certificate(tls, user)
        return KubeAccess(server.rstrip("/"), tls, self.token(user), f"kubeconfig {self.path}")

    def token(self, user: dict[str, Any]) -> TokenSource | None:
        if isinstance(user.get("token"), str) and user["token"]:
            return TokenSource(token=Secret(user["token"]))
        if (path := self.file(user.get("tokenFile"))) is not None:
            return TokenSource(path=path)
        return None

    def client_certificate(self, tls: ssl.SSLContext, user: dict[str, Any]) -> None:
        cert = self.data(user.get("client-certificate-data"), "client certificate")
        key = self.data(user.get("client-key-data"), "client key")
        cert_file = self.file(user.get("client-certificate"))
        key_file = self.file(user.get("client-key"))
        if cert is None and cert_file is None:
            return
        with tempfile.TemporaryDirectory(prefix="archlag-kube-") as private:
            if cert is not None:  # ssl loads certificates and keys only from files
                cert_file = Path(private) / "cert.pem"
                cert_file.write_text(cert)
            if key is not None:
                key_file = Path(private) / "key.pem"
                key_file.touch(mode=0o600)
                key_file.write_text(key)
            try:
                tls.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise KubeAccessError(
                    f"{self.path}: the client certificate cannot be used ({type(exc).__name__})"
                ) from None

    def file(self, name: object) -> Path | None:
        if not isinstance(name, str) or not name:
            return None
        return self.folder / name  # an absolute name stays itself

    def data(self, value: object, what: str) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        try:
            return base64.b64decode(value, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            raise KubeAccessError(f"{self.path}: the {what} data is not base64 PEM") from None


def _named(
    config: dict[str, Any],
    section: str,
    key: str,
    name: object,
    path: Path,
    *,
    required: bool = True,
) -> dict[str, Any]:
    entries = config.get(section)
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key)
            return value if isinstance(value, dict) else {}
    if not required:
        return {}
    raise KubeAccessError(f"{path}: no {key} named {str(name)[:100]!r} in {section}")


def _tls(*, cafile: Path | None, cadata: str | None, insecure: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    try:
        if cafile is not None or cadata is not None:
            context.load_verify_locations(cafile=cafile, cadata=cadata)
    except (OSError, ssl.SSLError) as exc:
        raise KubeAccessError(f"the CA certificate cannot be used ({type(exc).__name__})") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _read_small(path: Path, limit: int, what: str) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise KubeAccessError(f"the {what} {path} cannot be read: {exc.strerror}") from None
    if len(data) > limit:
        raise KubeAccessError(f"the {what} {path} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KubeAccessError(f"the {what} {path} is not UTF-8 text") from None
