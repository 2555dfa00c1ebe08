"""What Compose files, Dockerfiles and manifests say runs: interpolation, stages, kinds."""

from __future__ import annotations

import pytest

from archlag.config.yaml_source import load_documents
from archlag.core.platforms import parse_platform
from archlag.discovery.compose_env import InterpolationError, interpolate, read_dotenv
from archlag.discovery.compose_files import compose_images
from archlag.discovery.dockerfiles import dockerfile_images
from archlag.discovery.file_findings import FileFindings
from archlag.discovery.kube_manifests import manifest_images

ENV = {"TAG": "2.6", "EMPTY": "", "REGISTRY": "ghcr.io"}
AMD, ARM, V7 = (parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app:${TAG}", "app:2.6"),
        ("app:$TAG", "app:2.6"),
        ("$REGISTRY/o/r:$TAG-alpine", "ghcr.io/o/r:2.6-alpine"),
        ("app:${UNSET}", "app:"),
        ("app:${UNSET:-1.0}", "app:1.0"),
        ("app:${EMPTY:-1.0}", "app:1.0"),
        ("app:${EMPTY-1.0}", "app:"),
        ("app:${UNSET-1.0}", "app:1.0"),
        ("app:${TAG:+set}", "app:set"),
        ("app:${EMPTY:+set}", "app:"),
        ("app:${EMPTY+set}", "app:set"),
        ("app:${UNSET+set}", "app:"),
        ("app:${TAG:?needed}", "app:2.6"),
        ("app:${UNSET:-${TAG}-slim}", "app:2.6-slim"),
        ("app:${TAG:-${UNSET:?not used}}", "app:2.6"),
        ("cost: $$5 ${TAG}", "cost: $5 2.6"),
        ("$${TAG}", "${TAG}"),
    ],
)
def test_interpolation_is_composes(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app:${UNSET:?set TAG first}", "variable UNSET is not set: set TAG first"),
        ("app:${EMPTY:?}", "variable EMPTY is not set"),
        ("app:${UNSET?}", "variable UNSET is not set"),
        ("app:${TAG", "unclosed"),
        ("app:$1", "invalid interpolation"),
        ("app:${TAG!x}", "invalid interpolation"),
        ("${A:-" * 20 + "x" + "}" * 20, "nest too deeply"),
    ],
)
def test_interpolation_refuses_what_compose_refuses(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate(text, ENV)


def test_dotenv_reads_quotes_comments_and_earlier_lines() -> None:
    text = (
        "# the stack's settings\n"
        "export TAG=1.27\n"
        "IMAGE=nginx:${TAG} # a comment\n"
        "QUOTED='$NOT expanded'\n"
        'ESCAPED="a\\$b \\"c\\""\n'
        "\n"
        "PLATFORM = linux/arm64\n"
    )

    assert read_dotenv(text, {}) == {
        "TAG": "1.27",
        "IMAGE": "nginx:1.27",
        "QUOTED": "$NOT expanded",
        "ESCAPED": 'a$b "c"',
        "PLATFORM": "linux/arm64",
    }
    with pytest.raises(InterpolationError, match="line 1 is not KEY=VALUE"):
        read_dotenv("just words\n", {})


def images(findings: FileFindings) -> list[tuple[str, str, object]]:
    return [(i.name, i.reference, i.platform) for i in findings.images]


def test_compose_services_with_build_are_not_registry_images() -> None:
    (document,) = load_documents(
        """
services:
  web:
    image: "${REGISTRY}/gotify/server:${TAG:-latest}"
    platform: linux/arm64
    labels: ["archlag.io/watch=true", "tier=${TIER:-front}"]
  db:
    image: postgres:16
    labels: {archlag.io/watch: false}
  app:
    build: .
    image: me/app:dev
  broken:
    image: "app:${NEEDED:?set NEEDED}"
  odd: [not, a, service]
  arm:
    image: alpine
    platform: linux/arm
""",
        "compose.yaml",
    )

    findings = compose_images(document, ENV)

    assert images(findings) == [
        ("web", "ghcr.io/gotify/server:2.6", ARM),
        ("db", "postgres:16", None),
        ("arm", "alpine", V7),
    ]
    assert findings.images[0].marks == {"archlag.io/watch": "true", "tier": "front"}
    assert findings.images[1].marks == {"archlag.io/watch": "false"}
    assert findings.problems == [
        ("broken", "variable NEEDED is not set: set NEEDED"),
        ("odd", "the service is not a mapping"),
    ]


def test_a_dockerfile_names_its_base_images_not_its_stages() -> None:
    text = r"""# syntax=docker/dockerfile:1
# escape=`
ARG GO=1.22 `
    DISTRO=bookworm
ARG REGISTRY="docker.io"
FROM --platform=$BUILDPLATFORM golang:${GO}-${DISTRO} AS Build
# a comment between stages
RUN go build `
    # a comment inside a continuation
    ./...
FROM build AS test
FROM scratch AS empty
from --platform=linux/arm64 ${REGISTRY}/library/debian:${DISTRO}-slim as final
COPY --from=build /out /app
FROM final
FROM alpine:3.20 AS too many words here
"""
    findings = dockerfile_images(text)

    assert images(findings) == [
        ("build", "golang:1.22-bookworm", None),
        ("final", "docker.io/library/debian:bookworm-slim", ARM),
    ]
    assert findings.problems == [("stage 5", "FROM is not FROM [--platform=P] IMAGE [AS NAME]")]


def test_manifests_of_every_workload_kind_in_lists_and_documents() -> None:
    documents = load_documents(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {archlag.io/watch: "true"}}
spec:
  template:
    spec:
      nodeSelector: {kubernetes.io/arch: arm64}
      initContainers: [{name: migrate, image: "ghcr.io/o/migrate:1"}]
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {archlag.io/watch: "false"}}
        spec: {containers: [{name: run, image: "restic/restic:0.16"}]}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: solo}
    spec: {containers: [{name: c, image: busybox}]}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {image: "not/this"}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: broken}
spec: {template: {spec: {containers: [{name: nameless}]}}}
---
kustomize: [not, a, kubernetes, object]
""",
        "all.yaml",
    )

    findings = manifest_images(documents)

    assert [(i.name, i.container, i.reference, i.platform) for i in findings.images] == [
        ("Deployment/web", "migrate", "ghcr.io/o/migrate:1", ARM),
        ("Deployment/web", "web", "nginx:1.27", ARM),
        ("CronJob/backup", "run", "restic/restic:0.16", None),
        ("Pod/solo", "c", "busybox", None),
    ]
    assert findings.images[0].marks == {"archlag.io/watch": "true"}
    assert findings.images[2].marks == {"archlag.io/watch": "false"}
    assert findings.problems == [("StatefulSet/broken", "a container of containers has no image")]
