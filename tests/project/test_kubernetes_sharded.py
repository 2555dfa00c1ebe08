"""deploy/kubernetes-sharded: the base rendered by the real kustomize (kubectl's), with a
StatefulSet of shards in place of the one-pod Deployment.

Checked as Kubernetes would take it (its JSON schemas, strict) and as archlag would: the
arguments parse with archlag's own command line, the shard count matches the replicas, and every
peer address names a pod of the StatefulSet through its headless Service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archlag.cli import _parser
from tests.support.deploy import KUBERNETES_DIR, run, tool_in_venv
from tests.support.paths import ROOT

SHARDED_DIR = ROOT / "deploy" / "kubernetes-sharded"


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    """What ``kubectl apply -k deploy/kubernetes-sharded`` would create, keyed by kind."""
    result = run([tool_in_venv("kubectl"), "kustomize", str(SHARDED_DIR)])
    assert result.returncode == 0, result.stderr
    found: dict[str, dict[str, Any]] = {}
    for document in yaml.safe_load_all(result.stdout):
        assert document["kind"] not in found, document["kind"]
        found[document["kind"]] = document
    return found


@pytest.fixture(scope="module")
def base() -> dict[str, dict[str, Any]]:
    result = run([tool_in_venv("kubectl"), "kustomize", str(KUBERNETES_DIR)])
    assert result.returncode == 0, result.stderr
    return {d["kind"]: d for d in yaml.safe_load_all(result.stdout)}


def test_statefulset_replaces_the_deployment_and_its_claim(rendered, base) -> None:
    kinds = {"ConfigMap", "Service", "StatefulSet", "ServiceMonitor", "PrometheusRule",
             "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}  # fmt: skip
    assert set(rendered) == kinds
    assert {"Deployment", "PersistentVolumeClaim"} <= set(base)
    cluster_wide = {"ClusterRole", "ClusterRoleBinding"}
    for kind, document in rendered.items():
        if kind not in cluster_wide:
            assert document["metadata"]["namespace"] == "monitoring", kind
    for kind in ("ConfigMap", "ServiceMonitor", "PrometheusRule", *cluster_wide):
        assert rendered[kind] == base[kind], f"{kind} is the base's, unchanged"


def test_rendered_objects_match_the_kubernetes_schema(rendered, tmp_path: Path) -> None:
    files = []
    for kind in ("ConfigMap", "Service", "StatefulSet"):
        path = tmp_path / f"{kind.lower()}.yaml"
        path.write_text(yaml.safe_dump(rendered[kind]), encoding="utf-8")
        files.append(str(path))
    result = run([tool_in_venv("kubernetes-validate"), "--strict", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(files), result.stdout


def _arguments(statefulset: dict[str, Any]) -> Any:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    return _parser().parse_args(container["args"])


def test_every_shard_is_counted_and_every_peer_is_a_pod(rendered) -> None:
    statefulset, service = rendered["StatefulSet"], rendered["Service"]
    spec = statefulset["spec"]
    args = _arguments(statefulset)
    assert args.shard_from_hostname, "each pod's ordinal is its shard"
    assert args.shard is None
    assert args.total_shards == spec["replicas"]
    (port,) = service["spec"]["ports"]
    name, headless = statefulset["metadata"]["name"], service["metadata"]["name"]
    assert spec["serviceName"] == headless
    expected = [f"http://{name}-{i}.{headless}:{port['port']}" for i in range(spec["replicas"])]
    assert args.peers.split(",") == expected
    assert spec["podManagementPolicy"] == "Parallel", "shards restart together"


def test_the_headless_service_publishes_shards_before_they_are_ready(rendered) -> None:
    service = rendered["Service"]["spec"]
    assert service["clusterIP"] == "None"
    assert service["publishNotReadyAddresses"] is True
    pod_labels = rendered["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()
    monitor = rendered["ServiceMonitor"]["spec"]
    labels = rendered["Service"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()


def test_each_shard_has_its_own_state_file_and_the_same_hardened_pod(rendered, base) -> None:
    spec = rendered["StatefulSet"]["spec"]
    pod = spec["template"]["spec"]
    base_pod = base["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (base_container,) = base_pod["containers"]
    state_path = next(m for m in base_container["volumeMounts"] if m["name"] == "state")
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert state_path in container["volumeMounts"]
    assert "state" not in {v["name"] for v in pod["volumes"]}, "from the claim template"
    for key in ("securityContext", "automountServiceAccountToken", "serviceAccountName"):
        assert pod[key] == base_pod[key], key
    same = {k: v for k, v in container.items() if k != "args"}
    assert same == {k: v for k, v in base_container.items() if k != "args"}
    assert container["args"][:2] == base_container["args"], "the base's config, then shard flags"
