"""``GET /api/v1/running``: what runs (found by discovery), per platform, and whether the next
release is out for it. Built from the judged statuses (:mod:`archlag.core.updates`); pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archlag.core.snapshots import RunningStatus
from archlag.web.api.documents import API_VERSION


def running_document(running: Sequence[RunningStatus]) -> dict[str, Any]:
    return {"api_version": API_VERSION, "running": [_entry(status) for status in running]}


def _entry(status: RunningStatus) -> dict[str, Any]:
    image = status.image
    return {
        "image": f"{image.registry}/{image.repository}",
        "registry": image.registry,
        "repository": image.repository,
        "tag": status.tag,
        "digest": image.digest,
        "platform": str(image.platform),
        "containers": dict(sorted(image.containers.items())),
        "state": status.state,
        "newest": status.newest,
        "waiting_for": status.waiting_for,
        "waiting_since": status.waiting_since,
        "reason": status.reason,
    }
