"""What runs, and whether the next release is out for it, per platform; and the discovery
sources' health. Rendered at every scrape from the live snapshot (a few hundred running images
at most, judged again when discovery or a watch changes)."""

from __future__ import annotations

from collections.abc import Sequence

from archlag.core.snapshots import RunningStatus, SourceStatus
from archlag.core.updates import STATES, WAITING
from archlag.metrics.text import Family, Spec, label_set, with_label

CONTAINERS = Spec(
    "archlag_running_containers",
    "gauge",
    "Containers (or file services) running the image on the platform, by discovery source",
)
UPDATE_STATE = Spec(
    "archlag_running_update_state",
    "gauge",
    "1 for the running image's update state on the platform, 0 for the others: current "
    "(nothing newer), available (a newer release is out for this platform), waiting (a newer "
    "release lacks this platform), unknown (not readable yet)",
)
WAITING_SINCE = Spec(
    "archlag_running_update_waiting_since_timestamp_seconds",
    "gauge",
    "While waiting: when the newer release that lacks the platform was first seen",
)
DISCOVERY_UP = Spec(
    "archlag_discovery_up",
    "gauge",
    "1 while the discovery source answers; 0 while it cannot be read (the last known set of "
    "images is kept)",
)
DISCOVERY_IMAGES = Spec(
    "archlag_discovery_images", "gauge", "Images the discovery source found running"
)
DISCOVERY_OVER_LIMIT = Spec(
    "archlag_discovery_images_over_limit",
    "gauge",
    "Images found running but left out by the bound on discovered images",
)


def running_families(
    running: Sequence[RunningStatus], sources: Sequence[SourceStatus]
) -> list[Family]:
    containers, states, since = Family(CONTAINERS), Family(UPDATE_STATE), Family(WAITING_SINCE)
    for status in running:
        image = status.image
        labels = label_set(
            registry=image.registry,
            repository=image.repository,
            tag=status.tag or "",
            platform=str(image.platform),
        )
        for source, count in sorted(image.containers.items()):
            containers.gauge(with_label(labels, "source", source), count)
        for state in STATES:
            states.gauge(with_label(labels, "state", state), 1 if status.state == state else 0)
        if status.state == WAITING and status.waiting_since is not None:
            since.gauge(labels, status.waiting_since)
    up, images, over = Family(DISCOVERY_UP), Family(DISCOVERY_IMAGES), Family(DISCOVERY_OVER_LIMIT)
    for found in sources:
        labels = label_set(source=found.source)
        up.gauge(labels, 1 if found.up else 0)
        images.gauge(labels, found.images)
        over.gauge(labels, found.over_limit)
    return [containers, states, since, up, images, over]
