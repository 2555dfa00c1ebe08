"""A GitOps-style checkout for the files source: a Compose stack, a multi-stage Dockerfile, a
multi-document manifest, and what must be left alone (a Helm chart, a .git folder).

:func:`write_stacks` writes it under a folder; :data:`EXPECTED` is what discovery finds there
with ``platforms: [linux/amd64]``, ``TAG=2.6`` in the environment and the stack's ``.env``:
(workload suffix, container, image, platform).
"""

from __future__ import annotations

from pathlib import Path

COMPOSE = """\
name: gotify
services:
  server:
    image: "${REGISTRY:-docker.io}/gotify/server:${TAG}"
    platform: linux/arm64
    labels: {diun.enable: "true"}
  db:
    image: postgres:${PG_VERSION}-alpine
  cli:
    build: ./cli
    image: me/gotify-cli:dev
  ignored:
    image: busybox
    labels: ["archlag.io/watch=false"]
"""
DOTENV = "PG_VERSION=16\nTAG=from-dotenv\n"
DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
RUN go build -o /out/app \\
    ./cmd/app
FROM build AS test
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
"""
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/arch: arm64}
      containers: [{name: web, image: "ghcr.io/shop/web:1.4.2"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers: [{name: wait, image: "busybox:1.36"}]
          containers: [{name: report, image: "ghcr.io/shop/report@sha256:%s"}]
""" % ("c" * 64)
HELM_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec: {template: {spec: {containers: [{name: x, image: "{{ .Values.image }}"}]}}}
"""

AMD64, ARM64 = "linux/amd64", "linux/arm64"
EXPECTED = [
    ("compose.yaml:db", "db", "docker.io/library/postgres:16-alpine", AMD64),
    ("compose.yaml:server", "server", "docker.io/gotify/server:2.6", ARM64),
    ("Dockerfile:build", "build", "docker.io/library/golang:1.22-bookworm", AMD64),
    ("Dockerfile:stage 2", "stage 2", "gcr.io/distroless/static-debian12:nonroot", AMD64),
    ("k8s/shop.yaml:CronJob/report", "report", f"ghcr.io/shop/report@sha256:{'c' * 64}", AMD64),
    ("k8s/shop.yaml:CronJob/report", "wait", "docker.io/library/busybox:1.36", AMD64),
    ("k8s/shop.yaml:Deployment/web", "web", "ghcr.io/shop/web:1.4.2", ARM64),
]


def write_stacks(root: Path) -> Path:
    """The checkout under ``root`` (returned)."""
    (root / "gotify").mkdir(parents=True)
    (root / "gotify" / "compose.yaml").write_text(COMPOSE)
    (root / "gotify" / ".env").write_text(DOTENV)
    (root / "app").mkdir()
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    (root / "k8s").mkdir()
    (root / "k8s" / "shop.yaml").write_text(MANIFEST)
    (root / "chart" / "templates").mkdir(parents=True)
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 1.0.0\n")
    (root / "chart" / "templates" / "deployment.yaml").write_text(HELM_TEMPLATE)
    (root / ".git").mkdir()
    (root / ".git" / "compose.yaml").write_text("services: {x: {image: not/this}}\n")
    (root / "README.md").write_text("not read\n")
    return root
