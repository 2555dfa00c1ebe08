"""``--web.config.file`` read as the exporter-toolkit format: what it accepts, and every way a
file is refused (key path and line, never a value or the file's path)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from archlag.config import ConfigError
from archlag.web.web_config import load_web_config
from tests.support.certificates import CertificateAuthority, Issued, bcrypt_hash

HASH = bcrypt_hash("right-horse-battery")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateAuthority, Issued]:
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    return ca, ca.issue("server")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    return path


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_web_config(path)
    assert raised.value.source == "--web.config.file"
    assert str(path) not in str(raised.value)
    return [str(issue) for issue in raised.value.issues]


def test_a_full_file_loads_with_relative_paths_from_its_directory(
    tmp_path: Path, pki: tuple[CertificateAuthority, Issued]
) -> None:
    ca, server = pki
    for source in (server.cert, server.key, ca.cert):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    path = write(
        tmp_path,
        f"""
tls_server_config:
  cert_file: {server.cert.name}
  key_file: {server.key.name}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {ca.cert.name}
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: {HASH}
""",
    )
    loaded = load_web_config(path)
    assert loaded.config.tls is not None
    assert loaded.config.tls.cert_file == tmp_path / server.cert.name
    assert loaded.config.users == {"prometheus": HASH.encode()}
    assert loaded.config.headers == (
        ("X-Frame-Options", "deny"),
        ("Strict-Transport-Security", "max-age=31536000"),
    )
    assert loaded.context is not None
    assert loaded.context.verify_mode == ssl.CERT_REQUIRED
    assert loaded.context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert HASH not in repr(loaded)


@pytest.mark.parametrize("text", ["", "tls_server_config: {}\n", "basic_auth_users:\n"])
def test_an_empty_file_or_section_leaves_plain_http_without_authentication(
    tmp_path: Path, text: str
) -> None:
    loaded = load_web_config(write(tmp_path, text))
    assert loaded.context is None
    assert loaded.config.users == {}


def test_a_missing_file_is_refused_without_its_path(tmp_path: Path) -> None:
    assert issues(tmp_path / "nowhere.yml") == [
        "(top level): cannot read the file: No such file or directory"
    ]


def test_plaintext_passwords_are_refused_and_never_repeated(tmp_path: Path) -> None:
    path = write(tmp_path, "basic_auth_users:\n  alice: hunter2-plain\n  bob: $2y$99$short\n")
    found = issues(path)
    assert len(found) == 2
    assert found[0].startswith("line 2: basic_auth_users.alice: must be a bcrypt hash")
    assert found[1].startswith("line 3: basic_auth_users.bob: must be a bcrypt hash")
    assert not any("hunter2" in line or "short" in line for line in found)


def test_unknown_and_unsupported_keys_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
tls_sever_config: {}
rate_limit: {interval: 1s, burst: 20}
tls_server_config:
  cert_file: a.crt
  key_file: a.key
  client_auth_type: RequireAnyClientCert
  curve_preferences: [X25519]
  min_version: TLS10
  cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_FOO]
http_server_config:
  headers: {X-Powered-By: archlag, X-Frame-Options: allow}
""",
    )
    found = issues(path)
    expected = [
        "line 2: tls_sever_config: unknown key",
        "line 3: rate_limit: is not supported",
        "line 7: tls_server_config.client_auth_type: RequireAnyClientCert is not supported",
        "line 8: tls_server_config.curve_preferences: is not supported",
        "line 9: tls_server_config.min_version: TLS10 is not supported",
        "line 10: tls_server_config.cipher_suites[0]: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite",
        "line 10: tls_server_config.cipher_suites[1]: not a cipher suite Go's crypto/tls knows",
        "line 12: http_server_config.headers.X-Powered-By: unknown key",
        "line 12: http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin",
    ]
    assert len(found) == len(expected), found
    for line, start in zip(sorted(found), sorted(expected), strict=True):
        assert line.startswith(start), (line, start)


def test_client_ca_and_client_auth_type_go_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}\n",
    )
    assert [i.split(":")[1].strip() for i in issues(path)] == ["tls_server_config.client_ca_file"]
    path = write(
        tmp_path,
        "tls_server_config: {cert_file: a, client_auth_type: RequireAndVerifyClientCert}\n",
    )
    found = issues(path)
    assert any("tls_server_config.key_file: is required" in line for line in found)
    assert any("RequireAndVerifyClientCert needs client_ca_file" in line for line in found)


def test_tls_files_that_cannot_serve_are_refused_with_their_key(
    tmp_path: Path, pki: tuple[CertificateAuthority, Issued]
) -> None:
    ca, server = pki
    other = ca.issue("other server")
    cases = {
        f"cert_file: {tmp_path / 'missing.crt'}\n  key_file: {server.key}": (
            "tls_server_config.cert_file: cannot read the file: No such file or directory"
        ),
        f"cert_file: {server.cert}\n  key_file: {other.key}": (
            "tls_server_config.key_file: the key and cert_file do not make a pair"
        ),
        f"cert_file: {server.key}\n  key_file: {server.key}": (
            "tls_server_config.cert_file: the file does not hold PEM certificates"
        ),
        f"cert_file: {server.cert}\n  key_file: {server.key}\n  client_ca_file: {server.key}\n"
        "  client_auth_type: VerifyClientCertIfGiven": (
            "tls_server_config.client_ca_file: the file does not hold PEM certificates"
        ),
    }
    for body, expected in cases.items():
        path = write(tmp_path, f"tls_server_config:\n  {body}\n")
        found = issues(path)
        assert len(found) == 1, (body, found)
        assert found[0].startswith(expected), (body, found)
        assert str(tmp_path) not in found[0]


def test_an_encrypted_key_is_refused_instead_of_prompting(tmp_path: Path, pki) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    _, server = pki
    key = serialization.load_pem_private_key(server.key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    path = write(
        tmp_path, f"tls_server_config: {{cert_file: {server.cert}, key_file: {encrypted}}}"
    )
    (found,) = issues(path)
    assert "tls_server_config.key_file: the key is encrypted" in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# " + "x" * (4 << 20) + "\n", "(top level): the file is larger than 4 MiB"),
        ("a: [" * 100 + "]" * 100, "line 1: (top level): the document nests deeper"),
        ("\0\1", "line 1: (top level): not valid YAML"),
        ("[1, 2]", "line 1: (top level): must be a mapping"),
    ],
)
def test_huge_deep_or_binary_files_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    found = issues(write(tmp_path, text))
    assert found[0].startswith(expected), found
