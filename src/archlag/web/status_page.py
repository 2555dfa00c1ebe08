"""The status page at ``/``: per watched repository, its newest tags against its platforms.

Each cell says whether the platform is present and how long after the tag's first platform it
appeared (with the precision of that figure), or how long it has been missing, when it is
expected from the repository's history and when it is (or was) late; incomplete tags are
highlighted (and say so in text, not only in colour). Each tag says whether archlag saw its
publication begin (measured) or found it complete (baseline), and what it was judged by. Each
repository says its watch's status and, when a poll failed, why. Plain server-rendered HTML
with a little CSS and no script; ``refresh`` adds a ``<meta http-equiv="refresh">``.

Every string that came from a registry or the config (registry, repository, tag, platform,
digest) goes through :func:`html.escape`, in text and in attribute values alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from archlag.core.durations import format_duration
from archlag.core.lateness import HISTORY, Deadline
from archlag.core.platforms import Platform
from archlag.core.publication import CONFIGURED, LEARNED, LEGACY, Publication, delay_uncertainty
from archlag.core.snapshots import RepositorySnapshot, RunningStatus, Snapshot, TagView
from archlag.core.status import OK, PENDING, WatchStatus
from archlag.web.running_section import STYLE as RUNNING_STYLE
from archlag.web.running_section import running_section

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d1d1f;max-width:80em}
header p,p.poll{margin:.3em 0}
nav a{margin-right:1em}
h2{margin:1.4em 0 .2em;font-size:1.15em;word-break:break-all}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #c8c8c8;padding:.3em .6em;text-align:left;font-size:.9em}
thead th{background:#eef0f3}
tbody th{font-family:ui-monospace,monospace;font-weight:600;word-break:break-all}
td.present{background:#e3f4e3}
td.missing{background:#fbdcdc;font-weight:600}
td.missing small{display:block}
td.late{background:#f4a8a8}
td.regressed{background:#f8cf9c;font-weight:600}
td.absent{color:#999}
tr.incomplete th,tr.incomplete td.status{background:#ffe89a}
tr.incomplete th{border-left:.35em solid #d99a00}
tr.unread th,tr.unread td.status{background:#fbdcdc}
td.status{white-space:nowrap}
td.status small{display:block;white-space:normal}
tr.baseline th{font-style:italic}
small{color:#555;font-weight:normal}
.failed{color:#b00020;font-weight:600}
"""
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 5, 3600


def render(
    snapshot: Snapshot,
    version: str,
    now: float | None = None,
    refresh: int = 0,
    running: Sequence[RunningStatus] = (),
) -> str:
    """The whole page; ``refresh`` > 0 makes the browser reload it every that many seconds;
    ``running``: what discovery found running (the "What you run" section)."""
    now = time.time() if now is None else now
    sections = "".join(
        _repository(index, repo, now) for index, repo in enumerate(snapshot.repositories)
    )
    tags = [view for repo in snapshot.repositories for view in repo.tags]
    incomplete = sum(not view.complete for view in tags)
    meta = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    toggle = (
        "<a href='/'>Stop auto-refresh</a>"
        if refresh
        else "<a href='/?refresh=30'>Auto-refresh every 30s</a>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"{meta}<title>archlag status</title><style>{_STYLE}{RUNNING_STYLE}</style></head><body>"
        f"<header><h1>archlag <small>{escape(version)}</small></h1>"
        "<p>How late each architecture of a multi-arch image is published.</p>"
        "<nav><a href='/metrics'>Metrics</a><a href='/-/config'>Configuration check</a>"
        f"<a href='/-/healthy'>Health</a><a href='/-/ready'>Readiness</a>{toggle}</nav>"
        f"<p class='summary'>{len(snapshot.repositories)} repositories, {len(tags)} tags, "
        f"<strong>{incomplete} incomplete</strong>; page rendered {_clock(now)}</p></header>"
        f"<main>{running_section(running, now)}"
        f"{sections or '<p>No watches configured.</p>'}</main></body></html>"
    )


def _clock(at: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return f"<time datetime='{stamp}'>{stamp.replace('T', ' ').replace('Z', ' UTC')}</time>"


_STATUS_TEXT = {
    "not_found": "repository not found",
    "denied": "access to this repository denied",
    "unauthorized": "the registry refuses archlag's credentials",
    "unreadable": "unreadable answers",
    "unreachable": "registry unreachable",
    "rate_limited": "rate limited by the registry",
    "error": "archlag error",
}


def _repository(index: int, repo: RepositorySnapshot, now: float) -> str:
    name = escape(f"{repo.registry}/{repo.repository}")
    figures = repo.figures
    if figures.last_poll_success is None:
        polled = "Last successful poll: none yet"
    else:
        ago = format_duration(max(now - figures.last_poll_success, 0.0))
        polled = f"Last successful poll: {_clock(figures.last_poll_success)} ({ago} ago)"
    if figures.last_poll_ok is False:
        polled += (
            " — <span class='failed'>the latest poll failed</span> "
            f"({figures.poll_errors} failed so far)"
        )
    polled += f"; polled every {format_duration(repo.interval)}"
    platforms = sorted({p for view in repo.tags for p in _platforms(view)})
    header = "".join(f"<th scope='col'>{escape(str(p))}</th>" for p in platforms)
    due = _Due(repo, now)
    rows = "".join(_row(view, platforms, due) for view in repo.tags)
    rows += "".join(_unread_row(tag, error, len(platforms)) for tag, error in repo.unread.items())
    table = (
        f"<table class='matrix'><thead><tr><th scope='col'>tag</th>{header}"
        f"<th scope='col'>status</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else "<p>No tags yet.</p>"
    )
    return (
        f"<section class='repository' id='repository-{index}' data-repository='{name}'>"
        f"<h2>{name}</h2><p class='poll'>{polled}</p>{_status(repo.figures.status, now)}{table}"
        "</section>"
    )


def _status(status: WatchStatus, now: float) -> str:
    """The watch's status line: why the latest poll went wrong, since when."""
    if status.reason in (OK, PENDING):
        return ""
    what = _STATUS_TEXT.get(status.reason, status.reason)
    since = ""
    if status.since is not None:
        since = f" for {format_duration(max(now - status.since, 0.0))}"
    detail = f": {escape(status.message)}" if status.message else ""
    return (
        f"<p class='watch-status' data-status='{escape(status.reason)}'>"
        f"<span class='failed'>{escape(what)}</span>{since}{detail}</p>"
    )


def _platforms(view: TagView) -> set[Platform]:
    return set(view.expected) | set(view.state.publication.platforms)


def _row(view: TagView, platforms: list[Platform], due: _Due) -> str:
    publication = view.state.publication
    cells = [_cell(view, publication, platform, due) for platform in platforms]
    tag = escape(view.state.tag)
    kind = "baseline" if publication.baseline else "measured"
    notes = [note for note in (_history(publication), _judged_by(publication)) if note]
    if view.error:
        notes.append(f"latest check failed: {escape(view.error)}")
    small = "".join(f"<small>{note}</small>" for note in notes)
    if view.complete:
        status, row = "complete", f"complete {kind}"
    else:
        status = "⚠ incomplete" + due.lateness(view.state.tag, publication)
        row = f"incomplete {kind}"
    return (
        f"<tr class='{row}' data-tag='{tag}'><th scope='row'>{tag}</th>{''.join(cells)}"
        f"<td class='status'><span class='state'>{status}</span>{small}</td></tr>"
    )


class _Due:
    """When the missing platforms of a repository's tags are expected, and which are late."""

    def __init__(self, repo: RepositorySnapshot, now: float) -> None:
        self.deadlines = repo.deadlines_by_tag()
        self._by_tag: dict[str, list[Deadline]] = {}
        for deadline in repo.deadlines:
            self._by_tag.setdefault(deadline.tag, []).append(deadline)
        self.now = now
        self._stall_after = repo.stall_after
        self._enough = repo.lateness.min_observations

    def lateness(self, tag: str, publication: Publication) -> str:
        """``, late`` once a missing platform of the tag is late (by the stall_after of old
        for a tag that only lacks platforms that vanished)."""
        mine = self._by_tag.get(tag)
        if mine:
            return ", late" if any(d.late(self.now) for d in mine) else ""
        return ", stalled" if self.now - publication.first_seen >= self._stall_after else ""

    def note(self, deadline: Deadline) -> str:
        """``expected by 14:32 UTC (usually +18m, 12 releases)``, or ``late since ...``."""
        expected = deadline.expected
        if deadline.basis == HISTORY and expected is not None:
            usually = (
                f"usually +{format_duration(expected.typical)}, {expected.observations} releases"
            )
        else:
            measured = expected.observations if expected is not None else 0
            usually = f"stall_after: {measured} of {self._enough} releases measured"
        if deadline.late(self.now):
            return f"late since {_moment(deadline.late_after, self.now)} ({usually})"
        if deadline.expected_by is not None:
            by = _moment(deadline.expected_by, self.now)
            return (
                f"expected by {by} ({usually}); late after {_moment(deadline.late_after, self.now)}"
            )
        return f"late after {_moment(deadline.late_after, self.now)} ({usually})"


def _moment(at: float, now: float) -> str:
    """A time of the day in UTC, with its date when that is not today's."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    shown = time.strftime("%H:%M", time.gmtime(at))
    if time.gmtime(at)[:3] != time.gmtime(now)[:3]:
        shown = time.strftime("%Y-%m-%d %H:%M", time.gmtime(at))
    return f"<time datetime='{stamp}'>{shown} UTC</time>"


def _unread_row(tag: str, error: str, columns: int) -> str:
    """A tag in view that no check could read yet: nothing is known of its platforms."""
    name = escape(tag)
    cells = f"<td class='absent' colspan='{columns}'>–</td>" if columns else ""
    return (
        f"<tr class='unread' data-tag='{name}'><th scope='row'>{name}</th>{cells}"
        "<td class='status'><span class='state'>⚠ not read yet</span>"
        f"<small>latest check failed: {escape(error)}</small></td></tr>"
    )


def _cell(view: TagView, publication: Publication, platform: Platform, due: _Due) -> str:
    name = escape(str(platform))
    state = publication.platforms.get(platform)
    if state is not None and state.present:
        after = state.first_seen - publication.first_seen
        note = f"+{format_duration(after)} after first" if after >= 1 else "first"
        error = delay_uncertainty(publication, platform)
        if error is not None:
            note += f", ±{format_duration(error)}" if error > 0 else ", exact"
        return (
            f"<td class='present' data-platform='{name}' title='{escape(state.digest)}'>"
            f"present <small>{note}</small></td>"
        )
    if state is not None:
        return (
            f"<td class='regressed' data-platform='{name}'>gone "
            "<small>was present, then removed</small></td>"
        )
    if platform in view.expected:
        waited = format_duration(max(due.now - publication.first_seen, 0.0))
        deadline = due.deadlines.get((view.state.tag, platform))
        kind, note = "missing", ""
        if deadline is not None:
            kind += " late" if deadline.late(due.now) else ""
            note = f" <small class='due'>{due.note(deadline)}</small>"
        return (
            f"<td class='{kind}' data-platform='{name}'>missing <small>for {waited}</small>"
            f"{note}</td>"
        )
    return f"<td class='absent' data-platform='{name}'>–</td>"


def _history(publication: Publication) -> str:
    if publication.baseline:
        return "baseline: complete when archlag first looked, not measured"
    return "measured" if publication.observed else ""


def _judged_by(publication: Publication) -> str:
    expectation = publication.expectation
    if expectation is None:
        return "expects: not fixed yet"
    if expectation.basis == CONFIGURED:
        return "expects: the configured platforms"
    if expectation.basis == LEARNED:
        return "expects: as tags " + escape(", ".join(expectation.learned_from))
    if expectation.basis == LEGACY:
        return "expects: the platforms it had when archlag 0.1 judged it"
    return "expects: its own platforms (no older tag to learn from)"
