"""What ``archlag check`` and ``archlag wait`` print: a table, JSON, progress and summary lines.

The table fits an 80-column terminal. The JSON document is stable (``schema_version`` 1; keys
are only ever added) and documented in ``docs/gating.md``. Strings from a registry are already
validated by the registry client (tags, digests, platforms), so they cannot carry control
characters into a terminal.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterable
from typing import Any, TextIO

from archlag.core.durations import format_duration
from archlag.core.platforms import Platform
from archlag.gate.report import FROM_FLAGS, FROM_SERVER, FROM_WATCH, Due, Report, WaitResult
from archlag.registry.manifests import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
)

SCHEMA_VERSION = 1
WIDTH = 80
_PLATFORM_COLUMN = 40
_MEDIA_TYPES = {
    OCI_INDEX: "OCI image index",
    DOCKER_MANIFEST_LIST: "Docker manifest list",
    OCI_MANIFEST: "OCI image manifest",
    DOCKER_MANIFEST: "Docker image manifest",
}


def short_digest(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}"


def _names(platforms: Iterable[Platform]) -> str:
    return ", ".join(str(p) for p in sorted(platforms)) or "none"


def _wanted(report: Report) -> frozenset[Platform]:
    """What completeness is judged on: the expectation, or what the tag has if none."""
    return report.expectation.platforms or report.present


def table(
    report: Report, *, waited: float | None = None, via: str = "registry", now: float | None = None
) -> str:
    """A human-readable report, at most 80 columns wide (but for a very long image name)."""
    content = report.content
    lines = [f"image   {report.image}"]
    if content is None:
        lines.append("digest  - (tag not found)")
    else:
        lines.append(f"digest  {content.digest or '-'}")
        if content.media_type:
            lines.append(f"type    {_MEDIA_TYPES.get(content.media_type, content.media_type)}")
    expectation = report.expectation
    source = _wanted_source(expectation.source, expectation.learned_from)
    lines += textwrap.wrap(
        f"wanted  {_names(expectation.platforms)} (from {source})",
        WIDTH,
        subsequent_indent=" " * 8,
        break_on_hyphens=False,
    )
    if waited is not None:
        lines.append(f"waited  {format_duration(waited)}")
    lines.append("")
    rows = sorted(expectation.platforms | report.present)
    width = min(max([len("PLATFORM"), *(len(str(p)) for p in rows)]), _PLATFORM_COLUMN)
    lines.append(f"{'PLATFORM':<{width}}  WANTED  STATUS   MANIFEST")
    for platform in rows:
        name = str(platform)
        if len(name) > width:
            name = name[: width - 3] + "..."
        digest = content.platforms.get(platform) if content is not None else None
        wanted = "yes" if platform in expectation.platforms else "no"
        status = "present" if digest is not None else "MISSING"
        manifest = short_digest(digest) if digest is not None else "-"
        lines.append(f"{name:<{width}}  {wanted:<6}  {status:<7}  {manifest}")
    if not rows:
        lines.append("(no platforms)")
    lines += _timings(report)
    lines += _when(report, via, time.time() if now is None else now)
    return "\n".join(lines) + "\n"


def _wanted_source(source: str, learned_from: tuple[str, ...]) -> str:
    if source == FROM_FLAGS:
        return "--platform"
    if source == FROM_WATCH:
        return "the watch's platforms in -c FILE"
    learned = ", ".join(learned_from)
    if source == FROM_SERVER:
        return "archlag: " + (f"as tags {learned}" if learned else "its expectation")
    return f"tags {learned}" if learned else "no older tag: any platform counts"


def _timings(report: Report) -> list[str]:
    """When each platform appeared, as a running archlag measured it (``--server`` only)."""
    if not report.timings:
        return []
    lines = ["", "appeared (archlag's first-seen times):"]
    for platform, timing in sorted(report.timings.items()):
        when = "first" if timing.delay < 1 else f"+{format_duration(timing.delay)} after first"
        if timing.delay_uncertainty is not None:
            error = timing.delay_uncertainty
            when += f", ±{format_duration(error)}" if error > 0 else ", exact"
        lines.append(f"  {str(platform)[:_PLATFORM_COLUMN]:<{_PLATFORM_COLUMN // 2}}  {when}")
    return lines


def _when(report: Report, via: str, now: float) -> list[str]:
    """When each missing platform is expected and late: what a running archlag can say from
    the repository's history, or, from the registry alone, where to ask."""
    if not report.found or not report.missing:
        return []
    if via != "server":
        return [
            "",
            *textwrap.wrap(
                "when: the registry keeps no history; --server URL asks a running archlag, which "
                "knows how long each platform usually takes in this repository",
                WIDTH,
            ),
        ]
    lines = ["", "when (archlag, from this repository's history):"]
    for platform in report.missing:
        due = report.due.get(platform)
        text = "unknown (this archlag says nothing about it)" if due is None else _due(due, now)
        lines += textwrap.wrap(
            f"{str(platform)[:_PLATFORM_COLUMN]:<{_PLATFORM_COLUMN // 2}}  {text}",
            WIDTH,
            initial_indent="  ",
            subsequent_indent=" " * (_PLATFORM_COLUMN // 2 + 4),
            break_on_hyphens=False,
        )
    return lines


def _due(due: Due, now: float) -> str:
    """``expected by 14:32 UTC, late after 14:52 UTC (usually +18m, 12 releases)``."""
    late = f"LATE since {_moment(due.late_after, now)}" if due.late else ""
    if not late:
        late = f"late after {_moment(due.late_after, now)}"
        if due.expected_by is not None:
            late = f"expected by {_moment(due.expected_by, now)}, {late}"
    if due.basis == "history" and due.typical is not None:
        why = f"usually +{format_duration(due.typical)}, {due.observations} releases"
    else:
        why = f"stall_after: {due.observations} releases measured, too few to judge by"
    return f"{late} ({why})"


def _moment(at: float, now: float) -> str:
    """A UTC time of day, with its date when that is not today's."""
    day = time.gmtime(at)[:3] == time.gmtime(now)[:3]
    return time.strftime("%H:%M UTC" if day else "%Y-%m-%d %H:%M UTC", time.gmtime(at))


def as_json(
    report: Report,
    command: str,
    *,
    waited: float | None = None,
    timed_out: bool = False,
    via: str = "registry",
) -> str:
    """The stable JSON document (one line) described in docs/gating.md."""
    content = report.content
    expected = report.expectation.platforms
    timings = report.timings
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "image": str(report.image),
        "registry": report.image.registry,
        "repository": report.image.repository,
        "tag": report.image.tag,
        "found": content is not None,
        "digest": (content.digest or None) if content is not None else None,
        "media_type": (content.media_type or None) if content is not None else None,
        "expected": [str(p) for p in sorted(expected)],
        "expected_from": report.expectation.source,
        "learned_from": list(report.expectation.learned_from),
        "platforms": [
            {
                "platform": str(platform),
                "expected": platform in expected,
                "present": content is not None and platform in content.platforms,
                "digest": (content.platforms.get(platform) or None)
                if content is not None
                else None,
                "first_seen": timings[platform].first_seen if platform in timings else None,
                "delay_seconds": timings[platform].delay if platform in timings else None,
                "delay_uncertainty_seconds": (
                    timings[platform].delay_uncertainty if platform in timings else None
                ),
                "first_seen_source": timings[platform].source if platform in timings else None,
                **_due_keys(report.due.get(platform)),
            }
            for platform in sorted(expected | report.present)
        ],
        "missing": [str(p) for p in report.missing],
        "complete": report.complete,
        "waited_seconds": round(waited, 3) if waited is not None else None,
        "timed_out": timed_out,
        "via": via,
    }
    return json.dumps(document) + "\n"


def _due_keys(due: Due | None) -> dict[str, Any]:
    """A missing platform's lateness as a running archlag judged it (null without --server)."""
    return {
        "expected_by": due.expected_by if due is not None else None,
        "late_after": due.late_after if due is not None else None,
        "late": due.late if due is not None else None,
    }


def progress(report: Report, elapsed: float, now: float | None = None) -> str:
    """One progress line: elapsed time, what is present, what is missing."""
    wanted = _wanted(report)
    present = report.present & wanted
    if not report.found:
        state = "tag not found yet"
    else:
        state = f"{len(present)} of {len(wanted)} present"
        if present:
            state += f" ({_names(present)})"
    if report.missing:
        state += f"; missing: {_names(report.missing)}"
    clock = time.time() if now is None else now
    for platform in report.missing:
        due = report.due.get(platform)
        if due is not None and due.late:
            state += f"; {platform} late since {_moment(due.late_after, clock)}"
        elif due is not None and due.expected_by is not None:
            state += f"; {platform} expected by {_moment(due.expected_by, clock)}"
    return f"waiting {format_duration(elapsed)}: {state}"


def summary(report: Report) -> str:
    """The one-line reason for a check's exit status."""
    wanted = _wanted(report)
    if report.complete:
        return f"{report.image}: all wanted platforms present: {_names(wanted)}"
    if not report.found:
        return f"{report.image}: tag not found (wanted: {_names(wanted)})"
    if not report.missing:
        return f"{report.image}: the tag holds no image for any platform"
    return (
        f"{report.image}: {len(report.missing)} of {len(wanted)} wanted platforms missing: "
        f"{_names(report.missing)}"
    )


def wait_summary(result: WaitResult, timeout: float) -> str:
    """The one-line reason for a wait's exit status (``timeout``: what the user asked for)."""
    report = result.report
    if not result.timed_out:
        return (
            f"{report.image}: all wanted platforms present after waiting "
            f"{format_duration(result.waited)}: {_names(_wanted(report))}"
        )
    return f"{report.image}: timed out after {format_duration(timeout)}; {_still_missing(report)}"


def interrupted_summary(report: Report | None, elapsed: float) -> str:
    """The one-line reason for a wait stopped by Ctrl-C (``report``: the latest look, if any)."""
    text = f"interrupted after {format_duration(elapsed)}"
    return f"{text}; {report.image}: {_still_missing(report)}" if report is not None else text


def _still_missing(report: Report) -> str:
    if not report.found:
        return "tag not found"
    return f"still missing: {_names(report.missing)}"


class ProgressLine:
    """Progress on a stream: rewritten in place (``\\r``) on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, *, terminal: bool | None = None) -> None:
        self._stream = stream
        self.terminal = stream.isatty() if terminal is None else terminal
        self._shown = 0  # characters of the line now on the terminal

    def update(self, text: str) -> None:
        if not self.terminal:
            self._stream.write(text + "\n")
        else:
            text = text if len(text) < WIDTH else text[: WIDTH - 4] + "..."
            self._stream.write("\r" + text + " " * max(self._shown - len(text), 0))
            self._shown = len(text)
        self._stream.flush()

    def finish(self) -> None:
        """End the in-place line, so that what comes next starts on a line of its own."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = 0
