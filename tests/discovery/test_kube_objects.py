"""Pods and nodes parsed: owners without API calls, digests of the same repository only."""

from __future__ import annotations

from typing import Any

import pytest

from archlag.core.platforms import parse_platform
from archlag.discovery.kube_objects import KubeObjectError, node_platform, pod_facts

DIGEST = "sha256:" + "2" * 64


def pod(owner: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    meta = {"name": "p-1", "namespace": "ns", "uid": "u"} | metadata
    if owner is not None:
        meta["ownerReferences"] = [{"kind": "Other", "name": "x"}, {"controller": True, **owner}]
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


@pytest.mark.parametrize(
    ("owner", "labels", "workload"),
    [
        (None, {}, "ns/Pod/p-1"),
        ({"kind": "ReplicaSet", "name": "web-5f7b9"}, {"pod-template-hash": "5f7b9"},
         "ns/Deployment/web"),
        ({"kind": "ReplicaSet", "name": "web-5f7b9"}, {}, "ns/ReplicaSet/web-5f7b9"),
        ({"kind": "Job", "name": "backup-28912345"}, {}, "ns/CronJob/backup"),
        ({"kind": "Job", "name": "migrate-v2"}, {}, "ns/Job/migrate-v2"),
        ({"kind": "StatefulSet", "name": "db"}, {}, "ns/StatefulSet/db"),
        ({"kind": "Rollout", "name": "canary"}, {}, "ns/Rollout/canary"),
    ],
)  # fmt: skip
def test_the_workload_is_the_controller(
    owner: dict[str, Any] | None, labels: dict[str, str], workload: str
) -> None:
    assert pod_facts(pod(owner, labels=labels)).workload == workload


@pytest.mark.parametrize(
    ("image_id", "digest"),
    [
        (f"docker-pullable://nginx@{DIGEST}", DIGEST),
        (f"docker.io/library/nginx@{DIGEST}", DIGEST),
        (f"ghcr.io/other/nginx@{DIGEST}", None),
        ("sha256:" + "3" * 64, None),
        ("", None),
    ],
)
def test_the_runtimes_digest_counts_for_the_same_repository(image_id: str, digest: str) -> None:
    thing = pod()
    thing["status"] = {"containerStatuses": [{"name": "c", "imageID": image_id}]}

    (image,) = pod_facts(thing).images

    assert image.digest == digest


@pytest.mark.parametrize(
    "thing",
    [
        {},
        {"metadata": {"name": "p", "namespace": "n", "uid": "u"}},
        {"metadata": {"name": "p", "uid": "u"}, "spec": {}},
        {"metadata": {"name": "p", "namespace": "n", "uid": "u"},
         "spec": {"containers": [{"name": "c", "image": "x"}] * 101}},
        {"metadata": {"name": "p", "namespace": "n", "uid": "u"}, "spec": {"containers": ["c"]}},
    ],
)  # fmt: skip
def test_a_malformed_pod_is_refused(thing: dict[str, Any]) -> None:
    with pytest.raises(KubeObjectError):
        pod_facts(thing)


@pytest.mark.parametrize(
    ("node", "platform"),
    [
        ({"metadata": {"labels": {"kubernetes.io/arch": "arm64"}}}, "linux/arm64"),
        ({"metadata": {"labels": {"beta.kubernetes.io/arch": "amd64",
                                  "beta.kubernetes.io/os": "linux"}}}, "linux/amd64"),
        ({"metadata": {}, "status": {"nodeInfo": {"architecture": "arm",
                                                   "operatingSystem": "linux"}}}, "linux/arm/v7"),
        ({"metadata": {"labels": {"kubernetes.io/arch": "../../x"}}}, None),
        ({"metadata": {}}, None),
    ],
)  # fmt: skip
def test_a_nodes_platform_from_labels_else_node_info(node: dict[str, Any], platform: str) -> None:
    found = node_platform(node)
    assert found == (parse_platform(platform) if platform else None)
