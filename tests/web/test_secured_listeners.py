"""The real ``archlag`` behind ``--web.config.file``: real TLS with certificates made in the test,
Basic authentication on every path but the receivers', and files changed under it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.archlag_process import ArchlagProcess, run_archlag
from tests.support.certificates import CertificateAuthority, Issued, bcrypt_hash, serial_of
from tests.support.prometheus import PrometheusServer, started, wait_for

pytestmark = pytest.mark.integration

USER, PASSWORD = "prometheus", "correct-horse-battery-staple"
HOOK_SECRET = "hook-secret-for-the-test"
PROTECTED = [
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/-/healthy"),
    ("GET", "/-/config"),
    ("GET", "/api/v1/watches"),
    ("GET", "/api/v1/state?image=127.0.0.1:1/demo/app"),
    ("POST", "/-/reload"),
]


def web_config(directory: Path, server: Issued, **tls: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "tls_server_config:",
        f"  cert_file: {server.cert}",
        f"  key_file: {server.key}",
        *(f"  {key}: {value}" for key, value in tls.items()),
        "http_server_config:",
        "  headers: {Strict-Transport-Security: max-age=300}",
        "basic_auth_users:",
        f"  {USER}: {bcrypt_hash(PASSWORD)}",
    ]
    path = directory / "web.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def archlag_config(directory: Path) -> dict[str, object]:
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "hook-secret"
    secret.write_text(HOOK_SECRET + "\n", encoding="utf-8")
    return {
        "state_file": str(directory / "state.db"),
        "watches": [{"image": "127.0.0.1:1/demo/app", "interval": "1h"}],
        "receivers": [{"name": "ci", "type": "generic", "secret_file": str(secret)}],
    }


@dataclass(frozen=True, slots=True)
class Pki:
    ca: CertificateAuthority
    server: Issued
    client: Issued  # signed by ca
    stranger: Issued  # a client certificate signed by another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory / "ca")
    stranger = CertificateAuthority(directory / "stranger", "stranger CA")
    return Pki(
        ca,
        ca.issue("server"),
        ca.issue("client", client=True),
        stranger.issue("stranger client", client=True),
    )


@pytest.fixture
def secured(tmp_path: Path, pki: Pki) -> Iterator[ArchlagProcess]:
    ca, server = pki.ca, pki.server
    path = web_config(tmp_path, server)
    args = ("--web.config.file", str(path), "--web.enable-lifecycle")
    process = ArchlagProcess(
        tmp_path, archlag_config(tmp_path), args, ca=ca.cert, auth=(USER, PASSWORD)
    )
    with process:
        yield process


def client(process: ArchlagProcess, **options: object) -> httpx.Client:
    kwargs = {**process.client_options, **options}
    return httpx.Client(base_url=process.url, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_plain_http_is_refused_on_a_tls_listener(secured: ArchlagProcess) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{secured.port}/metrics", auth=(USER, PASSWORD), timeout=5)
    with client(secured) as https:
        assert https.get("/-/healthy").status_code == 200, "still serving after the attempt"


def test_every_path_but_the_receivers_needs_the_right_credentials(
    secured: ArchlagProcess,
) -> None:
    wrong = [None, (USER, "wrong-password"), ("mallory", PASSWORD)]
    with client(secured, auth=None) as https:
        for method, path in PROTECTED:
            for auth in wrong:
                answer = https.request(method, path, auth=auth)
                assert answer.status_code == 401, (method, path, auth)
                assert answer.headers["www-authenticate"].startswith("Basic")
                assert answer.headers["strict-transport-security"] == "max-age=300"
            answer = https.request(method, path, auth=(USER, PASSWORD))
            assert answer.status_code in (200, 404), (method, path, answer.text)
        assert https.get("/metrics", auth=(USER, PASSWORD)).text.startswith("# HELP")
    scrape = secured.scrape()
    refused = len(PROTECTED) * len(wrong)
    assert scrape.value("archlag_http_unauthorized_requests_total", listener="main") == refused
    assert scrape.value("archlag_web_config_last_reload_successful") == 1
    assert PASSWORD not in secured.log_path.read_text(encoding="utf-8")


def test_state_exports_are_logged_with_the_user(secured: ArchlagProcess) -> None:
    with client(secured) as https:
        answer = https.get("/api/v1/state", params={"image": "127.0.0.1:1/demo/app"})
    assert answer.status_code in (200, 404)
    log = secured.log_path.read_text(encoding="utf-8")
    assert "event=state_requested" in log
    line = next(line for line in log.splitlines() if "event=state_requested" in line)
    assert f"user={USER}" in line
    assert "image=127.0.0.1:1/demo/app" in line


def test_a_signed_webhook_needs_no_basic_credentials(secured: ArchlagProcess) -> None:
    body = json.dumps({"image": "127.0.0.1:1/demo/app", "tag": "1.0"}).encode()
    signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    with client(secured, auth=None) as https:
        accepted = https.post("/events/ci", content=body, headers={"X-Signature": signature})
        unsigned = https.post("/events/ci", content=body)
    assert accepted.status_code == 202, accepted.text
    assert unsigned.status_code == 401, "the receiver's own proof still applies"


def test_a_client_certificate_is_required_and_must_be_signed_by_the_ca(
    tmp_path: Path, pki: Pki
) -> None:
    ca, server, own, stranger = pki.ca, pki.server, pki.client, pki.stranger
    path = web_config(
        tmp_path, server, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(ca.cert)
    )
    with ArchlagProcess(
        tmp_path,
        archlag_config(tmp_path),
        ("--web.config.file", str(path)),
        ca=ca.cert,
        auth=(USER, PASSWORD),
        client_cert=(own.cert, own.key),
    ) as process:
        url = f"https://127.0.0.1:{process.port}/metrics"
        for certificate in (None, stranger):
            context = ssl.create_default_context(cafile=str(ca.cert))
            if certificate is not None:
                context.load_cert_chain(certificate.cert, certificate.key)
            with pytest.raises(httpx.TransportError):
                httpx.get(url, verify=context, auth=(USER, PASSWORD), timeout=5)
        context = ssl.create_default_context(cafile=str(ca.cert))
        context.load_cert_chain(own.cert, own.key)
        assert httpx.get(url, verify=context, auth=(USER, PASSWORD), timeout=5).status_code == 200


def served_serial(port: int, ca: Path) -> int:
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return serial_of(der)


def test_a_rotated_certificate_is_served_on_the_next_connection(
    secured: ArchlagProcess, pki: Pki
) -> None:
    ca, server = pki.ca, pki.server
    web = secured.workdir / "web.yml"
    assert served_serial(secured.port, ca.cert) == server.serial
    rotated = ca.issue("rotated server")
    text = web.read_text(encoding="utf-8")
    web.write_text(
        text.replace(str(server.cert), str(rotated.cert)).replace(
            str(server.key), str(rotated.key)
        ),
        encoding="utf-8",
    )
    assert served_serial(secured.port, ca.cert) == rotated.serial
    # The same files rewritten in place (a renewal by cert-manager or certbot) count as well.
    renewed = ca.issue("renewed server")
    rotated.key.write_bytes(renewed.key.read_bytes())
    rotated.cert.write_bytes(renewed.cert.read_bytes())
    assert served_serial(secured.port, ca.cert) == renewed.serial


def test_a_broken_file_keeps_the_running_configuration(secured: ArchlagProcess) -> None:
    web = secured.workdir / "web.yml"
    good = web.read_text(encoding="utf-8")
    web.write_text(good + "basic_auth_users_typo: {}\n", encoding="utf-8")
    with client(secured) as https:
        assert https.get("/-/healthy").status_code == 200, "the running configuration serves"
        assert https.get("/-/healthy", auth=None).status_code == 401
    scrape = secured.scrape()
    assert scrape.value("archlag_web_config_last_reload_successful") == 0
    log = secured.log_path.read_text(encoding="utf-8")
    (line,) = [line for line in log.splitlines() if "web_config_reload_failed" in line]
    assert "basic_auth_users_typo: unknown key" in line
    assert str(web) not in log, "the file's path is never logged"
    web.write_text(good.replace(USER, "grafana"), encoding="utf-8")
    with client(secured, auth=("grafana", PASSWORD)) as https:
        assert https.get("/-/healthy").status_code == 200
    with client(secured) as https:
        assert https.get("/-/healthy").status_code == 401, "the old user is gone"


def test_config_check_reads_the_web_config_and_its_certificates(tmp_path: Path, pki: Pki) -> None:
    server = pki.server
    config = tmp_path / "archlag.yml"
    config.write_text(json.dumps(archlag_config(tmp_path)), encoding="utf-8")
    web = web_config(tmp_path, server)
    valid = run_archlag("--config.check", "-c", str(config), "--web.config.file", str(web))
    assert valid.returncode == 0, valid.stderr
    assert "--web.config.file: valid (TLS, NoClientCert, 1 Basic users)" in valid.stdout
    web.write_text(web.read_text().replace(str(server.key), str(tmp_path / "gone.key")))
    for mode in ("--config.check", "--log.level=info"):
        refused = run_archlag(mode, "-c", str(config), "--web.config.file", str(web))
        assert refused.returncode == 2, refused.stderr
        assert "tls_server_config.key_file: cannot read the file" in refused.stderr
        assert str(tmp_path) not in refused.stderr


def healthcheck(port: int) -> tuple[int, str]:
    done = run_archlag("healthcheck", "--address", f"127.0.0.1:{port}", "--timeout", "5")
    return done.returncode, done.stderr


def test_the_image_healthcheck_needs_neither_credentials_nor_certificates(
    tmp_path: Path, pki: Pki, secured: ArchlagProcess
) -> None:
    assert healthcheck(secured.port) == (0, ""), "TLS and Basic authentication"
    path = web_config(
        tmp_path / "mtls",
        pki.server,
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.ca.cert),
    )
    mutual = ArchlagProcess(
        path.parent,
        archlag_config(path.parent),
        ("--web.config.file", str(path)),
        ca=pki.ca.cert,
        auth=(USER, PASSWORD),
        client_cert=(pki.client.cert, pki.client.key),
    )
    with mutual, ArchlagProcess(tmp_path / "plain", archlag_config(tmp_path / "plain")) as plain:
        assert healthcheck(mutual.port) == (0, ""), "a client certificate is required"
        assert healthcheck(plain.port) == (0, ""), "plain HTTP"
    status, said = healthcheck(plain.port)
    assert status == 1
    assert "not alive" in said


def test_check_asks_a_secured_server_with_a_credentials_file_and_its_ca(
    tmp_path: Path, pki: Pki, secured: ArchlagProcess
) -> None:
    secret = tmp_path / "credentials"
    secret.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    image = ["check", "127.0.0.1:1/demo/app:1.0", "--platform", "linux/amd64"]
    server = ["--server", secured.url, "--server.ca-file", str(pki.ca.cert)]
    allowed = run_archlag(*image, *server, "--server.credentials-file", str(secret))
    assert allowed.returncode == 1, allowed.stderr  # asked, and linux/amd64 is not there
    assert "MISSING" in allowed.stdout
    refused = run_archlag(*image, *server)
    assert refused.returncode == 2
    assert "access denied" in refused.stderr
    untrusted = run_archlag(
        *image, "--server", secured.url, "--server.credentials-file", str(secret)
    )
    assert untrusted.returncode == 2
    assert "cannot connect" in untrusted.stderr
    for done in (allowed, refused, untrusted):
        assert PASSWORD not in done.stdout + done.stderr


def test_a_real_prometheus_scrapes_over_tls_with_basic_auth(
    tmp_path: Path, pki: Pki, secured: ArchlagProcess
) -> None:
    password_file = tmp_path / "prometheus-password"
    password_file.write_text(PASSWORD, encoding="utf-8")
    job = {
        "scheme": "https",
        "tls_config": {"ca_file": str(pki.ca.cert), "server_name": "localhost"},
        "basic_auth": {"username": USER, "password_file": str(password_file)},
    }
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        targets={"archlag": [f"127.0.0.1:{secured.port}"]},
        job_options={"archlag": job},
    )
    with started(prometheus):
        found = wait_for(
            lambda: prometheus.query('archlag_build_info{job="archlag"}'),
            timeout=30,
            what="archlag_build_info scraped over TLS",
        )
        (up,) = prometheus.query('up{job="archlag"}')
    assert found[0]["metric"]["job"] == "archlag"
    assert up["value"][1] == "1"
    unauthorized = secured.scrape().value(
        "archlag_http_unauthorized_requests_total", listener="main"
    )
    assert unauthorized == 0, "Prometheus sent its credentials at every scrape"
