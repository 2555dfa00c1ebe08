"""Discovery: the images that run, from Kubernetes, Docker or Podman, and files, as one list.

The API the exporter calls::

    discovery = Discovery(config.discovery, on_change=listener)  # DiscoverySettings
    group.start_soon(discovery.run)        # in the exporter's task group; runs until cancelled
    discovery.snapshot()                   # the current DiscoverySnapshot, at any time
    discovery.reconfigure(new.discovery)   # on a reload; only sources whose settings changed
                                           # start again (settings compare by value)

``listener(snapshot)`` is called (synchronously, in the event loop) after every change: a
source's reading, a source going up or down, an image whose grace ran out. A
:class:`DiscoverySnapshot` holds

- ``sightings``: one :class:`Sighting` per container (or file service) that runs an image:
  ``registry``, ``repository``, ``tag`` (None when pinned by digest only; ``latest`` when the
  reference names neither), ``digest`` (from the reference or the runtime), ``platform`` (the
  node's, the host's, the file's, or ``diun.platform``; None when unknown), ``source``
  (``kubernetes``, ``docker``, ``files``), ``workload``, ``container``, ``instance``;
- ``images``: the same grouped per (registry, repository, tag, digest, platform, source) as
  :class:`DiscoveredImage` with ``containers``; one that stopped running stays with 0 containers
  and ``gone_since`` for ``discovery.grace``; ``repositories()`` is what to watch;
- ``sources``: a :class:`SourceState` per configured source: ``up``, ``reason`` (why it is
  down; a source that is down keeps its last known set), ``since``, ``sightings``, ``images``
  (distinct among them), ``invalid`` (items it could not read, each logged), ``refused``
  (images left out by the bound);
- ``refused_repositories``: repositories beyond ``discovery.max_images`` (at most that many are
  kept: those kept already stay, new ones come in name order; logged once when it begins).

Workloads are chosen in one place (:mod:`~archlag.discovery.selection`: ``archlag.io/watch``,
diun's ``diun.enable`` and ``diun.platform``). Inside:

- :mod:`~archlag.discovery.interface`: the :class:`Source` protocol every source implements
  and the :class:`Reading` it publishes; :mod:`~archlag.discovery.sighting`: the value;
- :mod:`~archlag.discovery.engine` runs the sources, :mod:`~archlag.discovery.ledger` merges
  their sets (grace, the bound) into :mod:`~archlag.discovery.census`'s snapshot,
  :mod:`~archlag.discovery.catalogue` says which source is built from what,
  :mod:`~archlag.discovery.periodic` reads a source every ``discovery.interval``;
- Kubernetes: ``kube_access`` (in-cluster or kubeconfig), ``kube_api`` (list and watch),
  ``kube_reflector`` (one resource kept: list, watch, list again), ``kube_objects`` (pods and
  nodes parsed), ``kube_source`` (the source);
- Docker and Podman: ``engine_api`` (the Engine API), ``engine_objects`` (its answers parsed),
  ``docker_source``;
- files: ``compose_env`` (interpolation), ``compose_files``, ``dockerfiles``,
  ``kube_manifests`` (each returning ``file_findings``), ``files_source`` (the walk);
- :mod:`~archlag.discovery.limits`: every bound.
"""

from __future__ import annotations

from archlag.discovery.census import DiscoveredImage, DiscoverySnapshot, SourceState
from archlag.discovery.engine import Discovery
from archlag.discovery.interface import Reading, Report, Source, SourceUnavailable
from archlag.discovery.sighting import SOURCES, Sighting, SourceName

__all__ = [
    "SOURCES", "DiscoveredImage", "Discovery", "DiscoverySnapshot", "Reading", "Report",
    "Sighting", "Source", "SourceName", "SourceState", "SourceUnavailable",
]  # fmt: skip
