# archlag container image.
#
#   docker build -t archlag .
#   docker run -v "$PWD/archlag.yml:/etc/archlag/config.yml:ro" -p 10043:10043 archlag
#
# buildah and podman need --format docker, or the image has no HEALTHCHECK (OCI has none).
#
# Multi-arch release: see docs/deployment.md. VERSION must match pyproject.toml
# (tests/project/test_image.py checks it); PYTHON_IMAGE pins the base for both stages.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Build stage: install archlag and its dependencies into a virtualenv from the source tree.
FROM ${PYTHON_IMAGE} AS build
# pip reads the system's CA bundle, whichever pip the base brings (some read only their own
# copy of certifi): behind a TLS-inspecting proxy, mounting the host's bundle there for the
# build is then enough (docs/deployment.md). This stage's ENV does not reach the image.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
# tests/project/test_image.py runs this RUN line in a fresh virtualenv: keep it one line of
# plain commands.
RUN python -m venv /opt/archlag && /opt/archlag/bin/pip install .

# Runtime stage: the virtualenv on a clean base, no build leftovers.
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="archlag" \
      org.opencontainers.image.description="Prometheus exporter: how late each architecture of a multi-arch image is published" \
      org.opencontainers.image.source="https://github.com/archlag/archlag" \
      org.opencontainers.image.documentation="https://github.com/archlag/archlag/blob/main/docs/deployment.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it and volumes can be
# chowned to it (deploy/kubernetes uses the same ids).
RUN groupadd --system --gid 10043 archlag \
    && useradd --system --uid 10043 --gid archlag --home-dir /var/lib/archlag \
       --no-create-home --shell /usr/sbin/nologin archlag \
    && mkdir -p /etc/archlag /var/lib/archlag \
    && chown archlag:archlag /var/lib/archlag

COPY --from=build /opt/archlag /opt/archlag
ENV PATH=/opt/archlag/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10043:10043
WORKDIR /var/lib/archlag
VOLUME /var/lib/archlag
EXPOSE 10043

# No curl in the image: archlag asks /-/healthy itself. It needs no credentials: it speaks TLS
# when the listener does (--web.config.file) and counts any answer but a 5xx, a 401 included,
# as alive. Assumes the default port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["archlag", "healthcheck", "--address", "127.0.0.1:10043"]

ENTRYPOINT ["archlag"]
CMD ["-c", "/etc/archlag/config.yml"]
