"""The JSON documents of the read API, built from a snapshot: pure functions, no I/O.

Version 1 (``api_version: 1``); keys are only ever added. Every string that came from a registry
(tags, digests, platforms) is data: ``json.dumps`` escapes it, nothing interprets it. Times are
unix seconds (floats) in ``/api/v1/watches`` and ``/api/v1/tags``; the Renovate document uses
RFC 3339, as Renovate expects. ``docs/api.md`` describes each field; ``schema.json`` beside this
module is the JSON Schema the tests validate every answer against.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from archlag.core.lateness import Deadline, ExpectedDelay
from archlag.core.platforms import Platform
from archlag.core.publication import (
    Expectation,
    Publication,
    delay_uncertainty,
    expectation_for,
    uncertainty,
)
from archlag.core.snapshots import RepositorySnapshot, TagView

API_VERSION = 1
Document = dict[str, Any]


def image_of(repo: RepositorySnapshot) -> str:
    return f"{repo.registry}/{repo.repository}"


def watch_document(repo: RepositorySnapshot) -> Document:
    status = repo.figures.status
    return {
        "image": image_of(repo),
        "registry": repo.registry,
        "repository": repo.repository,
        "status": status.reason,
        "status_message": status.message,
        "status_since": status.since,
        "last_poll_success": repo.figures.last_poll_success,
        "interval_seconds": repo.interval,
        "stall_after_seconds": repo.stall_after,
        "platforms": sorted(str(p) for p in repo.configured_platforms),
        "tags": len(repo.tags),
        "incomplete_tags": sum(not view.complete for view in repo.tags),
        "failing_tags": repo.failing,
    }


def watches_document(repos: Iterable[RepositorySnapshot]) -> Document:
    return {"api_version": API_VERSION, "watches": [watch_document(r) for r in repos]}


def tags_document(
    repo: RepositorySnapshot,
    wanted: frozenset[Platform],
    tag: str | None = None,
    now: float | None = None,
) -> Document:
    """Every tag in view (or the one named), judged by its own expectation and by ``wanted``;
    each missing platform's lateness as of ``now``."""
    views = [v for v in repo.tags if tag is None or v.state.tag == tag]
    due = _Due(repo, time.time() if now is None else now)
    return {
        "api_version": API_VERSION,
        "image": image_of(repo),
        "registry": repo.registry,
        "repository": repo.repository,
        "status": repo.figures.status.reason,
        "status_message": repo.figures.status.message,
        "wanted": sorted(str(p) for p in wanted) if wanted else None,
        "expected_for_new_tag": _expectation(new_tag_expectation(repo)),
        "tags": [tag_document(view, wanted, repo.manifest_digests, due) for view in views],
        "unread_tags": [
            {"tag": name, "last_check_error": error}
            for name, error in repo.unread.items()
            if tag is None or name == tag
        ],
    }


def new_tag_expectation(repo: RepositorySnapshot) -> Expectation:
    """What a publication that began now would expect: the configured platforms, or the
    platforms of the three most recent tags in view."""
    states = [view.state for view in repo.tags]
    return expectation_for("", time.time(), repo.configured_platforms, states)


def _expectation(expectation: Expectation) -> Document:
    return {
        "platforms": sorted(str(p) for p in expectation.platforms),
        "basis": expectation.basis,
        "learned_from": list(expectation.learned_from),
    }


class _Due:
    """A repository's expectations and the deadlines of its missing platforms, at ``now``."""

    __slots__ = ("deadlines", "expected", "now")

    def __init__(self, repo: RepositorySnapshot, now: float) -> None:
        self.expected: Mapping[Platform, ExpectedDelay] = repo.expected_delays
        self.deadlines: Mapping[tuple[str, Platform], Deadline] = repo.deadlines_by_tag()
        self.now = now

    def platform(self, tag: str, platform: Platform) -> Document:
        """The lateness keys of one platform of a tag (null when it is not missing)."""
        history = self.expected.get(platform)
        deadline = self.deadlines.get((tag, platform))
        return {
            "expected_delay": None
            if history is None
            else {
                "typical_seconds": history.typical,
                "high_seconds": history.high,
                "observations": history.observations,
            },
            "expected_by": deadline.expected_by if deadline is not None else None,
            "late_after": deadline.late_after if deadline is not None else None,
            "late_after_basis": deadline.basis if deadline is not None else None,
            "late": deadline is not None and deadline.late(self.now),
        }


def tag_document(
    view: TagView, wanted: frozenset[Platform], manifest_digest: bool, due: _Due
) -> Document:
    state = view.state
    publication = state.publication
    expectation = publication.expectation
    judged = wanted or publication.expected
    return {
        "tag": state.tag,
        "digest": state.digest if manifest_digest else None,
        "publication": publication.seq,
        "first_seen": publication.first_seen,
        "complete": publication.complete,
        "completed_at": publication.completed_at,
        "baseline": publication.baseline,
        "measured": publication.observed,
        "expected": sorted(str(p) for p in publication.expected),
        "expected_basis": expectation.basis if expectation is not None else None,
        "learned_from": list(expectation.learned_from) if expectation is not None else [],
        "wanted_complete": all_present(publication, judged),
        "wanted_completed_at": completed_at(publication, judged),
        "last_check_error": view.error or None,
        "platforms": [
            _platform(publication, platform, platform in publication.expected)
            | due.platform(state.tag, platform)
            for platform in sorted(publication.expected | wanted | publication.platforms.keys())
        ],
    }


def _platform(publication: Publication, platform: Platform, expected: bool) -> Document:
    state = publication.platforms.get(platform)
    return {
        "platform": str(platform),
        "expected": expected,
        "available": state is not None and state.present,
        "first_seen": state.first_seen if state is not None else None,
        "last_absent": state.last_absent if state is not None else None,
        "uncertainty_seconds": uncertainty(state) if state is not None else None,
        "delay_seconds": state.first_seen - publication.first_seen if state is not None else None,
        "delay_uncertainty_seconds": delay_uncertainty(publication, platform),
        "source": state.source if state is not None else None,
        "digest": state.digest if state is not None else None,
    }


def all_present(publication: Publication, platforms: frozenset[Platform]) -> bool:
    """Every one of ``platforms`` present (none given: the publication has some platform)."""
    present = publication.present
    return bool(present) and platforms <= present


def completed_at(publication: Publication, platforms: frozenset[Platform]) -> float | None:
    """When the last of ``platforms`` appeared, if all are present."""
    if not all_present(publication, platforms):
        return None
    wanted = platforms or publication.present
    return max(publication.platforms[p].first_seen for p in wanted)


def renovate_document(repo: RepositorySnapshot, wanted: frozenset[Platform]) -> Document:
    """Renovate's custom-datasource JSON: only tags whose current publication has every wanted
    platform (default: what that publication expects), released when the last one appeared."""
    releases = []
    for view in repo.tags:
        publication = view.state.publication
        judged = wanted or publication.expected
        released = completed_at(publication, judged)
        if released is None:
            continue
        release: Document = {"version": view.state.tag, "releaseTimestamp": rfc3339(released)}
        if repo.manifest_digests:
            release["digest"] = view.state.digest
        releases.append(release)
    return {"releases": releases}


def rfc3339(seconds: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds % 1 * 1000):03d}Z"


def error_document(message: str) -> Document:
    return {"api_version": API_VERSION, "error": message}
