"""The web-config components (TLS and Basic authentication as an option), rendered by the real
kustomize on both Kubernetes layouts, and checked as Kubernetes and archlag would take them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archlag.cli import _parser
from archlag.web.web_config import parse_web_config
from tests.support.deploy import KUBERNETES_DIR, run, tool_in_venv
from tests.support.paths import ROOT

COMPONENT = KUBERNETES_DIR / "web-config"
SECRETS = {
    d["metadata"]["name"]: d
    for d in yaml.safe_load_all((COMPONENT / "secret.example.yaml").read_text())
}


def render(tmp_path: Path, layout: str, component: str) -> dict[str, dict[str, Any]]:
    """``kubectl kustomize`` of an overlay that adds ``component`` to ``layout`` (relative
    paths, as kustomize wants them: the overlay sits beside a link to deploy/)."""
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {"resources": [f"../deploy/{layout}"], "components": [f"../deploy/{component}"]}
        )
    )
    result = run([tool_in_venv("kubectl"), "kustomize", str(overlay)])
    assert result.returncode == 0, result.stderr
    return {d["kind"]: d for d in yaml.safe_load_all(result.stdout)}


@pytest.fixture(params=["single", "sharded"])
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, dict[str, Any]]:
    if request.param == "single":
        return render(tmp_path, "kubernetes", "kubernetes/web-config")
    return render(tmp_path, "kubernetes-sharded", "kubernetes-sharded/web-config")


def workload(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = rendered.get("Deployment") or rendered["StatefulSet"]
    return found


def mounted_files(pod: dict[str, Any], mount_path: str) -> set[str]:
    """The file names the pod sees in ``mount_path``: the keys of the Secrets projected there."""
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == mount_path]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    names = [source["secret"]["name"] for source in volume["projected"]["sources"]]
    return {key for name in names for key in SECRETS[name]["stringData"]}


def test_the_web_config_secret_is_mounted_and_named_by_the_flag(rendered, tmp_path: Path) -> None:
    pod = workload(rendered)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = _parser().parse_args(container["args"])
    web = Path(args.web_config)
    files = mounted_files(pod, str(web.parent))
    assert web.name in files
    config = parse_web_config(SECRETS["archlag-web"]["stringData"][web.name], web.parent)
    assert config.tls is not None
    assert {config.tls.cert_file.name, config.tls.key_file.name} <= files
    assert config.tls.cert_file.parent == web.parent
    assert {"prometheus", "probe"} <= set(config.users)
    if args.peers:
        assert all(peer.startswith("https://") for peer in args.peers.split(","))
        assert Path(args.peers_credentials).name in files
        assert Path(args.peers_ca).name in files
        user = SECRETS["archlag-web"]["stringData"]["peer-credentials"].partition(":")[0]
        assert user in config.users


def test_probes_speak_https_and_need_no_secret_for_liveness(rendered) -> None:
    (container,) = workload(rendered)["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["exec"]["command"][:2] == ["archlag", "healthcheck"]
    ready = container["readinessProbe"]["httpGet"]
    assert ready["scheme"] == "HTTPS"
    assert ready["path"] == "/-/ready"
    (header,) = ready["httpHeaders"]
    assert header["name"] == "Authorization"
    assert header["value"].startswith("Basic ")


def test_prometheus_scrapes_with_https_the_ca_and_basic_auth(rendered) -> None:
    (endpoint,) = rendered["ServiceMonitor"]["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    ca = endpoint["tlsConfig"]["ca"]["secret"]
    assert ca["key"] in SECRETS[ca["name"]]["stringData"]
    for part in ("username", "password"):
        reference = endpoint["basicAuth"][part]
        assert reference["key"] in SECRETS[reference["name"]]["stringData"]


def test_rendered_workload_and_secrets_match_the_kubernetes_schema(rendered, tmp_path) -> None:
    files = [str(COMPONENT / "secret.example.yaml")]
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(workload(rendered)), encoding="utf-8")
    files.append(str(path))
    result = run([tool_in_venv("kubernetes-validate"), "--strict", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 3, result.stdout
