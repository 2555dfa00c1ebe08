"""``--web.config.file``: TLS and Basic authentication in the exporter-toolkit format.

The file every Prometheus exporter shares (node_exporter, blackbox_exporter, Prometheus itself)::

    tls_server_config:
      cert_file: server.crt          # relative paths: from the file's own directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, NoClientCert
      client_ca_file: clients-ca.crt
      min_version: TLS12             # TLS12 (default) or TLS13; max_version likewise
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 suites, Go's names
      prefer_server_cipher_suites: true
    http_server_config:
      http2: true
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hashes only: htpasswd -nBC 10 "" | tr -d ':\\n'

What Python's ``ssl`` cannot do as Go does is refused with the reason, never ignored: inline
``cert``/``key``/``client_ca``, ``client_allowed_sans``, ``curve_preferences``, the client auth
types that ask for a certificate without verifying it, TLS 1.0 and 1.1, TLS 1.3 suite names, and
``rate_limit`` (archlag bounds connections itself, ``--web.max-connections``).

:func:`load_web_config` reads the file within the configuration loader's bounds
(:mod:`archlag.config.yaml_source`), checks every value, then reads the certificate, key and CA
files by building the TLS context (:mod:`archlag.web.tls_server`). It raises only
:class:`~archlag.config.ConfigError`, with every issue's key path and line; neither the file's
path nor any value from it (a hash, a file name) is in a message: the source is named
``--web.config.file``.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from archlag.config import ConfigError, ConfigIssue
from archlag.config.bounds import MAX_CONFIG_BYTES
from archlag.config.nodes import Node, NodeReader, join
from archlag.config.yaml_source import compose
from archlag.web.tls_server import (
    CLIENT_AUTH_TYPES,
    GO_CIPHER_SUITES,
    TLS13_SUITES,
    TLS_VERSIONS,
    TLSServerSettings,
    TLSSetupError,
    server_context,
)

SOURCE = "--web.config.file"
MAX_USERS = 1000
MAX_HEADER_VALUE = 4096
# Value rules of the toolkit: None takes any value, a tuple only those values.
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
_UNSUPPORTED = {
    "rate_limit": "is not supported: archlag bounds connections per listener and per client "
    "instead (--web.max-connections, --web.max-connections-per-client)",
    "cert": "inline certificates are not supported (Python's ssl loads them from files): use "
    "cert_file",
    "key": "inline keys are not supported (Python's ssl loads them from files): use key_file",
    "client_ca": "inline CAs are not supported: use client_ca_file",
    "client_allowed_sans": "is not supported: Python's ssl cannot match a client certificate's "
    "names during the handshake; let client_ca_file sign only the clients to allow",
    "curve_preferences": "is not supported: Python's ssl cannot set a list of curves (OpenSSL's "
    "defaults are used)",
}
_UNVERIFIED_CLIENT_AUTH = {"RequestClientCert", "RequireAnyClientCert", "RequireClientCert"}
_OLD_VERSIONS = {"TLS10", "TLS11"}
# A bcrypt hash as htpasswd, Go and pyca's bcrypt write it: $2a$, $2b$ or $2y$, cost, 53 chars.
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_TOP_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}
_TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "cert",
    "key",
    "client_ca",
    "client_allowed_sans",
    "curve_preferences",
}


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TLSServerSettings | None = None
    http2: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    # user name -> bcrypt hash; hashes are never shown (repr), like the passwords they stand for
    users: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class LoadedWebConfig:
    """A valid web configuration with its TLS context (None: plain HTTP)."""

    config: WebConfig
    context: ssl.SSLContext | None = None


def load_web_config(path: Path) -> LoadedWebConfig:
    """Read, check and apply ``path``: the TLS files are read and the context built.

    Raises:
        ConfigError: the file cannot be read, is not YAML within bounds, has unknown or invalid
            keys, or names TLS files that cannot be used (issues name ``tls_server_config``
            keys).
    """
    text = read_text(path)
    config = parse_web_config(text, path.parent)
    if config.tls is None:
        return LoadedWebConfig(config)
    try:
        return LoadedWebConfig(config, server_context(config.tls, http2=config.http2))
    except TLSSetupError as exc:
        raise ConfigError(SOURCE, [ConfigIssue(exc.key, None, exc.message)]) from None


def read_text(path: Path) -> str:
    """The file's text, at most :data:`MAX_CONFIG_BYTES` of it (more is refused by parsing).

    Raises:
        ConfigError: the file cannot be read or is not UTF-8.
    """
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        raise _error(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise _error("cannot read the file: it is not UTF-8 text") from None
    return text


def parse_web_config(text: str, directory: Path) -> WebConfig:
    """The configuration in ``text``; relative file names are taken from ``directory``.

    Raises:
        ConfigError: as :func:`load_web_config`, the TLS files aside.
    """
    root = compose(text, SOURCE)
    reader = _WebReader(directory)
    config = reader.web_config(root)
    if reader.issues:
        raise ConfigError(SOURCE, reader.issues)
    return config


def _error(message: str) -> ConfigError:
    return ConfigError(SOURCE, [ConfigIssue("", None, message)])


class _WebReader(NodeReader):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def web_config(self, root: Node | None) -> WebConfig:
        if root is None:  # an empty file: plain HTTP, no authentication, as the toolkit does
            return WebConfig()
        top = self.mapping(root, "", _TOP_KEYS)
        if top is None:
            return WebConfig()
        self._unsupported(top, "")
        tls = self.tls(top["tls_server_config"]) if "tls_server_config" in top else None
        http2, headers = self.http_server(top.get("http_server_config"))
        users = self.users(top["basic_auth_users"]) if "basic_auth_users" in top else {}
        return WebConfig(tls, http2, headers, users)

    def tls(self, node: Node) -> TLSServerSettings | None:
        path = "tls_server_config"
        if _is_null(node):
            return None
        fields = self.mapping(node, path, _TLS_KEYS)
        if not fields:  # an empty section leaves TLS off, as the toolkit does
            return None
        self._unsupported(fields, path)
        files = {k: self._file(fields, path, k) for k in ("cert_file", "key_file")}
        for key in ("cert_file", "key_file"):
            if key not in fields:
                self.error(join(path, key), node, "is required with tls_server_config")
        client_auth = self._client_auth(fields, path)
        ca_file = self._file(fields, path, "client_ca_file")
        if ca_file is not None and client_auth == "NoClientCert":
            self.error(
                join(path, "client_ca_file"),
                fields["client_ca_file"],
                "is set, but client_auth_type is NoClientCert: say how clients are "
                "checked (RequireAndVerifyClientCert)",
            )
        if ca_file is None and client_auth != "NoClientCert":
            self.error(
                join(path, "client_auth_type"),
                fields.get("client_auth_type"),
                f"{client_auth} needs client_ca_file, the CA that signs the clients",
            )
        low = self._version(fields, path, "min_version", "TLS12")
        high = self._version(fields, path, "max_version", "TLS13")
        if low and high and TLS_VERSIONS[low] > TLS_VERSIONS[high]:
            self.error(
                join(path, "min_version"),
                fields.get("min_version"),
                "must not be above max_version",
            )
        suites = (
            tuple(self.each(fields["cipher_suites"], join(path, "cipher_suites"), _suite, 64))
            if "cipher_suites" in fields
            else ()
        )
        prefer: bool | None = True
        if "prefer_server_cipher_suites" in fields:
            key = join(path, "prefer_server_cipher_suites")
            prefer = self.scalar(fields["prefer_server_cipher_suites"], key, bool, "true or false")
        if files["cert_file"] is None or files["key_file"] is None:
            return None
        return TLSServerSettings(
            files["cert_file"],
            files["key_file"],
            client_auth,
            ca_file,
            low or "TLS12",
            high or "TLS13",
            suites,
            prefer is not False,
        )

    def http_server(self, node: Node | None) -> tuple[bool, tuple[tuple[str, str], ...]]:
        path = "http_server_config"
        if node is None or _is_null(node):
            return True, ()
        fields = self.mapping(node, path, {"http2", "headers"}) or {}
        http2 = True
        if "http2" in fields:
            http2 = (
                self.scalar(fields["http2"], join(path, "http2"), bool, "true or false")
                is not False
            )
        headers: list[tuple[str, str]] = []
        if "headers" in fields and not _is_null(fields["headers"]):
            sub = join(path, "headers")
            for name, value_node in (
                self.mapping(fields["headers"], sub, set(HEADERS)) or {}
            ).items():
                value = self._header_value(value_node, join(sub, name), HEADERS[name])
                if value:  # blank leaves the header unset, as the toolkit does
                    headers.append((name, value))
        return http2, tuple(headers)

    def users(self, node: Node) -> dict[str, bytes]:
        path = "basic_auth_users"
        if _is_null(node):
            return {}
        fields = self.mapping(node, path, set()) or {}
        if len(fields) > MAX_USERS:
            self.error(path, node, f"must list at most {MAX_USERS} users, not {len(fields)}")
            return {}
        users: dict[str, bytes] = {}
        for name, value_node in fields.items():
            sub = join(path, name)
            if not name or ":" in name or not name.isprintable() or len(name) > 256:
                self.error(
                    sub,
                    value_node,
                    "a user name must be 1 to 256 printable characters "
                    "without ':' (Basic authentication cannot send it)",
                )
                continue
            value = self.scalar(value_node, sub, str, "a bcrypt hash")
            if value is None:
                continue
            match = _BCRYPT.fullmatch(value)
            if match is None or not 4 <= int(match.group(1)) <= 31:
                self.error(
                    sub,
                    value_node,
                    "must be a bcrypt hash ($2y$10$ and 53 characters), "
                    "never a password: make one with htpasswd -nBC 10 \"\" | tr -d ':\\n'",
                )
                continue
            users[name] = value.encode("ascii")
        return users

    def _unsupported(self, fields: dict[str, Node], path: str) -> None:
        for key in sorted(fields.keys() & _UNSUPPORTED.keys()):
            self.error(join(path, key), fields[key], _UNSUPPORTED[key])

    def _file(self, fields: dict[str, Node], path: str, key: str) -> Path | None:
        if key not in fields:
            return None
        name = self.scalar(fields[key], join(path, key), str, "a file name")
        if name is None:
            return None
        if not name or "\0" in name:
            self.error(join(path, key), fields[key], "must name a file")
            return None
        return self._directory / name  # an absolute name stays as it is

    def _client_auth(self, fields: dict[str, Node], path: str) -> str:
        key = join(path, "client_auth_type")
        if "client_auth_type" not in fields:
            return "NoClientCert"
        value = self.scalar(fields["client_auth_type"], key, str, "a client auth type")
        if value in CLIENT_AUTH_TYPES:
            return value
        if value in _UNVERIFIED_CLIENT_AUTH:
            self.error(
                key,
                fields["client_auth_type"],
                f"{value} is not supported: Python's ssl "
                "cannot ask for a certificate without verifying it; use "
                "RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file",
            )
        elif value is not None:
            self.error(
                key, fields["client_auth_type"], f"must be one of {', '.join(CLIENT_AUTH_TYPES)}"
            )
        return "NoClientCert"

    def _version(self, fields: dict[str, Node], path: str, key: str, default: str) -> str | None:
        if key not in fields:
            return default
        value = self.scalar(fields[key], join(path, key), str, "a TLS version")
        if value in TLS_VERSIONS:
            return value
        if value in _OLD_VERSIONS:
            self.error(
                join(path, key),
                fields[key],
                f"{value} is not supported: TLS 1.0 and 1.1 "
                "are deprecated (RFC 8996) and off in this Python's OpenSSL; use TLS12",
            )
        elif value is not None:
            self.error(join(path, key), fields[key], "must be TLS12 or TLS13")
        return None

    def _header_value(self, node: Node, path: str, allowed: tuple[str, ...] | None) -> str | None:
        value = self.scalar(node, path, str, "a string")
        if value is None:
            return None
        if len(value) > MAX_HEADER_VALUE or not (value.isascii() and value.isprintable()):
            self.error(
                path, node, f"must be printable ASCII, at most {MAX_HEADER_VALUE} characters"
            )
            return None
        if value and allowed is not None and value not in allowed:
            self.error(path, node, f"must be one of {', '.join(allowed)}")
            return None
        return value


def _suite(name: str) -> str:
    """A TLS 1.2 cipher suite's Go name, checked against the names known here.

    Raises:
        ValueError: not a name Go's ``tls.CipherSuites()`` lists, or a TLS 1.3 suite.
    """
    if name in TLS13_SUITES:
        raise ValueError(
            f"{name} is a TLS 1.3 suite: Python's ssl cannot choose those (OpenSSL's "
            "are used, as Go does); list TLS 1.2 suites only"
        )
    if name not in GO_CIPHER_SUITES:
        raise ValueError(
            "not a cipher suite Go's crypto/tls knows (names such as "
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
        )
    return name


def _is_null(node: Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"
