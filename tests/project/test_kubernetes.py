"""The Kubernetes manifests of deploy/kubernetes, checked without a cluster: against Kubernetes'
JSON schemas, and field by field against each other, the Dockerfile and the rule file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import (
    KUBERNETES_DIR,
    RULES,
    VERSION,
    load_yaml,
    run,
    tool,
    tool_in_venv,
)
from tests.support.dockerfile import Stage
from tests.support.paths import ROOT

LABELS = {"app.kubernetes.io/name": "archlag"}


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, keyed by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES_DIR.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert document["kind"] not in found, f"{path.name}: a second {document['kind']}"
            found[document["kind"]] = document | {"_file": path.name}
    return found


def test_every_manifest_has_the_required_fields(manifests: dict[str, dict[str, Any]]) -> None:
    assert set(manifests) == {
        "Kustomization",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
    }
    for kind, document in manifests.items():
        assert document.get("apiVersion"), kind
        if kind != "Kustomization":
            assert document["metadata"]["name"], kind
            assert LABELS.items() <= document["metadata"]["labels"].items(), kind
    for kind in ("Deployment", "Service", "ServiceMonitor", "PrometheusRule"):
        assert manifests[kind]["spec"], kind


@pytest.mark.parametrize("kubernetes", ["1.28.0", "latest"])
def test_core_manifests_match_the_kubernetes_schema(
    manifests: dict[str, dict[str, Any]], kubernetes: str
) -> None:
    validate = tool_in_venv("kubernetes-validate")
    # The Operator's and kustomize's kinds have no schema there; the tests below check them.
    files = sorted(
        {d["_file"] for d in manifests.values() if "." not in d["apiVersion"].partition("/")[0]}
    )
    version = [] if kubernetes == "latest" else ["--kubernetes-version", kubernetes]
    result = run([validate, "--strict", *version, *files], cwd=KUBERNETES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    documents = [d for d in manifests.values() if d["_file"] in files]  # rbac.yaml holds 3
    assert result.stdout.count("passed") == len(documents), result.stdout + result.stderr


def test_kustomization_applies_everything_but_the_secret_example(
    manifests: dict[str, dict[str, Any]],
) -> None:
    resources = manifests["Kustomization"]["resources"]
    expected = {d["_file"] for d in manifests.values()} - {
        "kustomization.yaml",
        "secret.example.yaml",
    }
    assert sorted(resources) == sorted(expected)


@pytest.fixture(scope="module")
def pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = manifests["Deployment"]["spec"]["template"]["spec"]
    return spec


def test_deployment_runs_one_hardened_non_root_pod(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any], final: Stage
) -> None:
    deployment = manifests["Deployment"]["spec"]
    assert deployment["replicas"] == 1, "one writer for the SQLite state"
    assert deployment["strategy"] == {"type": "Recreate"}
    assert deployment["selector"]["matchLabels"].items() <= (
        deployment["template"]["metadata"]["labels"].items()
    )
    uid = int(final.last("USER").operands().partition(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["fsGroup"] == uid, "the state volume must be writable"
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    assert container["image"].endswith(f":{VERSION}")
    assert container["args"] == final.last("CMD").exec_form()


def test_deployment_probes_health_and_readiness_on_the_exposed_port(
    pod: dict[str, Any], final: Stage
) -> None:
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert [str(port["containerPort"])] == final.last("EXPOSE").words()
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}, probe


def test_deployment_mounts_config_state_and_credentials(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any], final: Stage
) -> None:
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    config_path = Path(final.last("CMD").exec_form()[-1])
    config = volumes[mounts[str(config_path.parent)]]
    assert config["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    assert config_path.name in manifests["ConfigMap"]["data"]
    (state_path,) = final.last("VOLUME").words()
    state = volumes[mounts[state_path]]
    claim = manifests["PersistentVolumeClaim"]["metadata"]["name"]
    assert state["persistentVolumeClaim"]["claimName"] == claim
    # Without write access the image's read-only root leaves SQLite no temporary directory.
    assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108 - the container's /tmp
    (env,) = container["envFrom"]
    secret = manifests["Secret"]
    assert env["secretRef"] == {"name": secret["metadata"]["name"], "optional": True}
    for variable in secret["stringData"]:
        assert f"password_env: {variable}" in manifests["ConfigMap"]["data"]["config.yml"]


def test_service_and_service_monitor_select_the_pod(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any]
) -> None:
    service = manifests["Service"]
    # The Prometheus Operator names the job after the Service; ArchlagExporterDown expects it.
    assert service["metadata"]["name"] == "archlag"
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = pod["containers"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]
    monitor = manifests["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"


def test_prometheus_rule_is_generated_from_the_rule_file(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = run([sys.executable, str(ROOT / "scripts" / "gen-prometheusrule"), "--check"])
    assert result.returncode == 0, result.stderr
    groups = manifests["PrometheusRule"]["spec"]["groups"]
    assert groups == load_yaml(RULES)["groups"]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    promtool = tool("promtool", "prometheus")
    checked = run([promtool, "check", "rules", str(rules)])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_discovery_reads_pods_and_nodes_and_nothing_else(
    manifests: dict[str, dict[str, Any]], pod: dict[str, Any]
) -> None:
    """The RBAC the README states: get, list and watch on pods and nodes, bound to the service
    account the pod runs as, whose token it mounts."""
    (rule,) = manifests["ClusterRole"]["rules"]
    assert rule == {"apiGroups": [""], "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"]}  # fmt: skip
    binding = manifests["ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
        "name": manifests["ClusterRole"]["metadata"]["name"],
    }  # fmt: skip
    account = manifests["ServiceAccount"]["metadata"]["name"]
    (subject,) = binding["subjects"]
    assert (subject["kind"], subject["name"]) == ("ServiceAccount", account)
    assert subject["namespace"] == manifests["Kustomization"]["namespace"]
    assert pod["serviceAccountName"] == account
    assert pod["automountServiceAccountToken"] is True
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "get, list, watch on pods and nodes" in readme
