"""Which sources the settings name, and how each is built: one entry per source module.

:func:`plan_sources` gives, per configured source, the value it is built from (a reload that
changes it restarts the source) and a function that builds it. Adding a source is adding its
module and an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archlag.config.settings import DiscoverySettings
from archlag.discovery.docker_source import DockerSource
from archlag.discovery.files_source import FilesSource
from archlag.discovery.interface import Source
from archlag.discovery.kube_source import KubernetesSource
from archlag.discovery.periodic import PolledSource
from archlag.discovery.sighting import SourceName


@dataclass(frozen=True, slots=True)
class SourcePlan:
    key: object  # what the source is built from; compared by value on a reload
    build: Callable[[], Source]


def plan_sources(settings: DiscoverySettings) -> dict[SourceName, SourcePlan]:
    plans: dict[SourceName, SourcePlan] = {}
    chosen, interval = settings.watch_by_default, settings.interval
    if (kubernetes := settings.kubernetes) is not None:

        def build_kubernetes() -> Source:
            return KubernetesSource(kubernetes, watch_by_default=chosen)

        plans["kubernetes"] = SourcePlan((kubernetes, chosen), build_kubernetes)
    if (docker := settings.docker) is not None:

        def build_docker() -> Source:
            return DockerSource(docker, interval=interval, watch_by_default=chosen)

        plans["docker"] = SourcePlan((docker, interval, chosen), build_docker)
    if (files := settings.files) is not None:

        def build_files() -> Source:
            reader = FilesSource(files, watch_by_default=chosen)
            return PolledSource("files", reader.read, interval)

        plans["files"] = SourcePlan((files, interval, chosen), build_files)
    return plans
