"""A throwaway certificate authority made with the openssl command: a server certificate for
127.0.0.1 and a client certificate, for fakes served over real TLS."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A CA, and a server and a client certificate it signed, under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=archlag test CA", "-keyout", ca_key, "-out", ca)  # fmt: skip
    files = {}
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key, request, cert = (folder / f"{name}.{s}" for s in ("key", "csr", "crt"))
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=archlag-{name}",
                 "-keyout", key, "-out", request)  # fmt: skip
        extfile = folder / f"{name}.ext"
        extfile.write_text(extension + "\n")
        _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-days", "2", "-extfile", extfile, "-out", cert)  # fmt: skip
        files[name] = (cert, key)
    return TlsFiles(ca, *files["server"], *files["client"])


def _openssl(*args: object) -> None:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
