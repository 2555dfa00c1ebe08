"""Reaching the API server: the in-cluster service account over TLS, kubeconfig files (tokens,
token files, client certificates, relative paths), a token rotated in place, no secret shown."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import anyio
import pytest

from archlag.config.settings import KubernetesDiscovery
from archlag.discovery.kube_access import KubeAccessError, from_kubeconfig, in_cluster
from archlag.discovery.kube_source import KubernetesSource
from tests.support.asgi_server import TlsServing, serving
from tests.support.fake_kube import FakeKube
from tests.support.kube_cluster import EXPECTED, QUICK, Watching, kubeconfig, populate, seen
from tests.support.tls_files import make_tls_files

pytestmark = pytest.mark.anyio


async def first_reading(watcher: KubernetesSource) -> Watching:
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, report)
        await report.until(lambda r: r.reading is not None)
        group.cancel_scope.cancel()
    return report


async def test_a_rotated_token_file_is_read_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kube = FakeKube(tokens={"planted-token-one"})
    populate(kube)
    (tmp_path / "token").write_text("planted-token-one\n")
    report = Watching()
    async with serving(kube.app, "127.0.0.1:0") as served:
        watcher = KubernetesSource(
            KubernetesDiscovery(kubeconfig(tmp_path, served.url)), waits=QUICK, settle=0.0
        )
        async with anyio.create_task_group() as group:
            group.start_soon(watcher.run, report)
            await report.until(lambda r: r.reading is not None)
            (tmp_path / "token").write_text("planted-token-two\n")  # the kubelet rotates it
            kube.tokens = {"planted-token-two"}
            kube.pod("shop", "after", {"app": "ghcr.io/shop/after:1"}, node="arm-1")
            kube.end_watches()
            await report.until(
                lambda r: (
                    r.reading is not None
                    and any(s.repository == "shop/after" for s in r.reading.sightings)
                )
            )
            group.cancel_scope.cancel()

    assert report.reason is None, "a 401 made it read the file again, not go down"
    assert "planted-token" not in caplog.text
    assert all("planted-token" not in str(r.__dict__) for r in caplog.records)


async def test_a_refused_static_token_takes_the_source_down(tmp_path: Path) -> None:
    kube = FakeKube(tokens={"the-right-one"})
    report = Watching()
    async with serving(kube.app, "127.0.0.1:0") as served:
        config = tmp_path / "kubeconfig"
        config.write_text(f"""\
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: "{served.url}"}}}}]
users: [{{name: u, user: {{token: planted-wrong-token}}}}]
""")
        watcher = KubernetesSource(KubernetesDiscovery(config), waits=QUICK, settle=0.0)
        async with anyio.create_task_group() as group:
            group.start_soon(watcher.run, report)
            await report.until(lambda r: r.reason is not None)
            group.cancel_scope.cancel()

    assert report.reason == "/api/v1/pods: HTTP 401: Unauthorized"


async def test_in_cluster_with_the_service_accounts_ca_and_token(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("token-1")
    (account / "ca.crt").write_bytes(tls.ca.read_bytes())
    (account / "namespace").write_text("monitoring")
    kube = FakeKube()
    populate(kube)
    async with serving(kube.app, "127.0.0.1:0", TlsServing(tls.server_cert, tls.server_key)) as s:
        host, _, port = s.bind.rpartition(":")
        environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
        watcher = KubernetesSource(
            KubernetesDiscovery(), environ=environ, account=account, waits=QUICK, settle=0.0
        )
        report = await first_reading(watcher)

    assert report.reading is not None
    assert seen(report.reading) == EXPECTED


async def test_a_kubeconfig_with_client_certificate_data(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")

    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    kube = FakeKube(tokens={""})  # no token: the certificate is the credential
    populate(kube)
    serving_tls = TlsServing(tls.server_cert, tls.server_key, client_ca=tls.ca)
    async with serving(kube.app, "127.0.0.1:0", serving_tls) as served:
        config = tmp_path / "kubeconfig"
        config.write_text(f"""\
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: "{served.url}",
             certificate-authority-data: {data(tls.ca)}}}}}]
users: [{{name: u, user: {{client-certificate-data: {data(tls.client_cert)},
                           client-key-data: {data(tls.client_key)}}}}}]
""")
        report = await first_reading(
            KubernetesSource(KubernetesDiscovery(config), waits=QUICK, settle=0.0)
        )

    assert report.reading is not None
    assert len(report.reading.sightings) == len(EXPECTED)


def test_relative_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    make_tls_files(tmp_path / "tls")
    (tmp_path / "tls" / "token").write_text("from-a-file")
    config = tmp_path / "tls" / "kubeconfig"
    config.write_text("""\
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}]
users: [{name: u, user: {tokenFile: token, client-certificate: client.crt,
                         client-key: client.key}}]
""")

    access = from_kubeconfig(config)

    assert access.server == "https://127.0.0.1:6443"
    assert access.token is not None
    token = access.token.current()
    assert token is not None
    assert token.reveal() == "from-a-file"
    assert access.where == f"kubeconfig {config}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("current-context: nowhere\ncontexts: []\n", "no context named 'nowhere' in contexts"),
        ("[not, a, mapping]", "is not a kubeconfig"),
        ("a: [", "not valid YAML"),
        ("""\
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {exec: {command: aws, args: [eks, get-token]}}}]
""", "needs an exec plugin, which archlag does not run"),
        ("""\
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "ftp://k"}}]
""", "the cluster has no https:// server"),
        ("""\
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority-data: "%%%"}}]
""", "the CA data is not base64 PEM"),
    ],
)  # fmt: skip
def test_a_kubeconfig_that_cannot_be_used_says_why(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(text)

    with pytest.raises(KubeAccessError, match=message):
        from_kubeconfig(config)


def test_outside_a_cluster_the_service_account_says_to_set_a_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(KubeAccessError, match=r"set discovery\.kubernetes\.kubeconfig"):
        in_cluster({}, tmp_path)


async def test_a_source_that_cannot_reach_any_cluster_is_down_with_the_reason(
    tmp_path: Path,
) -> None:
    watcher = KubernetesSource(
        KubernetesDiscovery(), environ={}, account=tmp_path, waits=QUICK, settle=0.0
    )
    report = Watching()
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, report)
        await report.until(lambda r: r.reason is not None)
        group.cancel_scope.cancel()

    assert report.reason is not None
    assert report.reason.startswith("not running in a cluster")
