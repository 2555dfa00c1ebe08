"""Every bound of discovery in one place, and the waits between attempts.

What a source reads is untrusted like a registry's answer: a cluster, a Docker host or a folder
could hold anything. Each bound is far above what a real one holds and far below what would make
archlag slow or large; past one, the item (a pod, a container, a file) fails with a log line, or
the reading stops where it is and says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Kubernetes
MAX_LIST_PAGE_BYTES = 16 << 20  # one page of a list (LIST_PAGE_SIZE objects)
LIST_PAGE_SIZE = 500  # objects per page (limit=); the API server's default page is all of them
MAX_LIST_PAGES = 1000  # pages of one list: 500,000 objects
MAX_WATCH_LINE_BYTES = 4 << 20  # one watch event (a pod is a few KiB, managedFields included)
MAX_JSON_DEPTH = 64  # nesting of a pod or node (managedFields nest deeper than manifests)
MAX_PODS = 100_000  # pods kept per source; more are left out and counted
MAX_NODES = 20_000  # nodes kept (a cluster holds at most 5,000)
MAX_CONTAINERS_PER_POD = 100  # containers and init containers of one pod
WATCH_SECONDS = 300  # timeoutSeconds asked of a watch; the server may end it sooner
TOKEN_REREAD_SECONDS = 60.0  # a service account token file is read again this often (client-go)
MAX_TOKEN_BYTES = 64 << 10  # a token file; bound tokens are about 1 KiB
MAX_KUBECONFIG_BYTES = 1 << 20

# Docker and Podman
MAX_ENGINE_LIST_BYTES = 16 << 20  # GET /containers/json
MAX_ENGINE_BYTES = 4 << 20  # one container, image or /info answer
MAX_CONTAINERS = 10_000  # containers of one host that are looked at
ENGINE_TIMEOUT = 30.0  # one Engine API request

# Files
MAX_FILE_BYTES = 1 << 20  # a Compose file, Dockerfile or manifest; larger ones fail
MAX_FILES = 10_000  # files looked at in one reading of every path
MAX_READ_BYTES = 64 << 20  # bytes read in one reading of every path
MAX_DEPTH = 12  # folders below a configured path
MAX_DOCUMENTS = 1000  # YAML documents in one manifest file
MAX_SERVICES = 1000  # services of one Compose file, stages of a Dockerfile, pods of a manifest
MAX_INTERPOLATION_DEPTH = 10  # ${A:-${B:-...}} nesting in a Compose value

# Everything
MAX_SIGHTINGS = 200_000  # sightings of one source's reading
MAX_TEXT = 512  # characters of a workload, container or instance name
MAX_LOGGED_PROBLEMS = 100  # new item failures logged per reading; the rest are only counted


@dataclass(frozen=True, slots=True)
class RetryWaits:
    """Exponential back-off between attempts, with jitter; tests make the waits tiny."""

    initial: float = 1.0
    cap: float = 60.0
    jitter: float = 0.25  # each wait is shortened by up to this fraction, at random

    def wait(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row (1 for the first)."""
        wait = min(self.cap, self.initial * 2 ** min(max(failures - 1, 0), 32))
        # Jitter spreads clients apart; it is not security-relevant randomness.
        return float(wait * (1 - self.jitter * random.random()))  # noqa: S311
