"""TLS for archlag's listeners: ``tls_server_config`` as Python's ``ssl`` can honour it.

:func:`server_context` reads the certificate, key and client CA files (each at most
:data:`MAX_PEM_BYTES`) and builds an :class:`ssl.SSLContext`; what cannot be used raises
:class:`TLSSetupError` with the ``tls_server_config`` key to blame and a reason that quotes
neither a file name nor its contents.

:class:`PerConnectionContext` is the context the server is given: asyncio makes each accepted
connection's TLS object with ``wrap_bio``, and this context hands that call to the context
current at that moment, so a rotated certificate, a new client CA or other TLS settings apply
to the next connection without a restart (as the toolkit's ``GetConfigForClient`` does).
Connections already open keep the context they started with.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_PEM_BYTES = 1 << 20  # a certificate chain or a CA bundle; Debian's whole bundle is 220 KiB
CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's names of the TLS 1.2 suites its crypto/tls offers (tls.CipherSuites()), with OpenSSL's.
GO_CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
_KEY = "tls_server_config"


@dataclass(frozen=True, slots=True)
class TLSServerSettings:
    """``tls_server_config``; file paths absolute (relative ones are joined to the web config
    file's directory, as the toolkit does)."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()  # Go's names, TLS 1.2 suites only
    prefer_server_cipher_suites: bool = True

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the context is made of, to notice when one changes."""
        extra = (self.client_ca_file,) if self.client_ca_file else ()
        return (self.cert_file, self.key_file, *extra)


class TLSSetupError(Exception):
    """The settings cannot make a TLS context; ``key`` is the key path to blame."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


class _EncryptedKeyError(Exception):
    """OpenSSL asked for the key's password: archlag has none to give."""


def server_context(settings: TLSServerSettings, *, http2: bool = True) -> ssl.SSLContext:
    """A server context for ``settings``; the files are read now.

    Raises:
        TLSSetupError: a file cannot be read, is too large, is not what its key says (PEM
            certificates, an unencrypted PEM key), the key does not match the certificate, or a
            cipher suite is not offered by this Python's OpenSSL.
    """
    _check_pem(settings.cert_file, "cert_file", "CERTIFICATE-----")
    _check_pem(settings.key_file, "key_file", "PRIVATE KEY-----")
    if settings.client_ca_file is not None:
        _check_pem(settings.client_ca_file, "client_ca_file", "CERTIFICATE-----")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[settings.min_version]
    context.maximum_version = TLS_VERSIONS[settings.max_version]
    if settings.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if settings.cipher_suites:
        _set_suites(context, settings.cipher_suites)
    try:
        context.load_cert_chain(settings.cert_file, settings.key_file, password=_no_password)
    except _EncryptedKeyError:
        raise TLSSetupError(
            f"{_KEY}.key_file",
            "the key is encrypted: archlag cannot ask for "
            "its password (store it unencrypted, readable by archlag only)",
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSSetupError(
            f"{_KEY}.key_file",
            "the key and cert_file do not make a pair, or "
            f"one cannot be read as PEM ({_reason(exc)})",
        ) from None
    context.verify_mode = CLIENT_AUTH_TYPES[settings.client_auth_type]
    if settings.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=settings.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise TLSSetupError(
                f"{_KEY}.client_ca_file", f"cannot be read as PEM certificates ({_reason(exc)})"
            ) from None
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return context


class PerConnectionContext(ssl.SSLContext):
    """The server's context: each new connection takes ``current()``'s (see the module doc).

    Only ``wrap_bio`` is meaningful here (asyncio calls it once per accepted connection); this
    context's own settings are never used for a connection.
    """

    _current: Callable[[], ssl.SSLContext]

    def __new__(cls, current: Callable[[], ssl.SSLContext]) -> PerConnectionContext:
        context = super().__new__(cls, ssl.PROTOCOL_TLS_SERVER)
        context._current = current
        return context

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self._current().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


def _check_pem(path: Path, key: str, marker: str) -> None:
    """The file can be read, is at most :data:`MAX_PEM_BYTES` and holds ``marker``."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise TLSSetupError(
            f"{_KEY}.{key}", f"cannot read the file: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > MAX_PEM_BYTES:
        raise TLSSetupError(f"{_KEY}.{key}", f"the file is larger than {MAX_PEM_BYTES >> 20} MiB")
    if marker.encode() not in data:
        what = "a PEM private key" if key == "key_file" else "PEM certificates"
        raise TLSSetupError(f"{_KEY}.{key}", f"the file does not hold {what}")


def _set_suites(context: ssl.SSLContext, suites: tuple[str, ...]) -> None:
    wanted = [GO_CIPHER_SUITES[name] for name in suites]
    try:
        context.set_ciphers(":".join(wanted))
    except ssl.SSLError:
        offered: set[str] = set()
    else:
        offered = {str(cipher["name"]) for cipher in context.get_ciphers()}
    missing = [name for name, openssl in zip(suites, wanted, strict=True) if openssl not in offered]
    if missing:
        raise TLSSetupError(
            f"{_KEY}.cipher_suites",
            f"not offered by this Python's OpenSSL (at its security level): {', '.join(missing)}",
        )


def _no_password() -> bytes:
    raise _EncryptedKeyError


def _reason(exc: Exception) -> str:
    """The error's reason without the file name an OSError carries."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc.library or "SSL error")
    if isinstance(exc, OSError):
        return str(exc.strerror or type(exc).__name__)
    return type(exc).__name__
