"""The HTML landing page: links, the watched repositories, each tag's platforms and status.

Every string that came from a registry or the config is passed through :func:`html.escape`.
"""

from __future__ import annotations

import time
from html import escape

from archlag.durations import format_duration
from archlag.platforms import Platform
from archlag.state import RepositorySnapshot, Snapshot, TagView

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
th{background:#f3f3f3}
td.present{background:#e6f4e6}
td.missing{background:#fbe3e3}
td.regressed{background:#f8d0a0}
tr.incomplete th{background:#fff4c2}
small{color:#666}
"""


def render(snapshot: Snapshot, version: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    sections = "".join(_repository(repo, now) for repo in snapshot.repositories)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>archlag</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>archlag <small>{escape(version)}</small></h1>"
        "<p>How late each architecture of a multi-arch image is published. "
        "<a href='/metrics'>Metrics</a> · <a href='/-/healthy'>Health</a> · "
        "<a href='/-/ready'>Readiness</a></p>"
        f"{sections or '<p>No watches configured.</p>'}</body></html>"
    )


def _repository(repo: RepositorySnapshot, now: float) -> str:
    title = escape(f"{repo.registry}/{repo.repository}")
    if repo.last_poll_success is None:
        polled = "not polled successfully yet"
    else:
        polled = f"last successful poll {format_duration(now - repo.last_poll_success)} ago"
    if repo.last_poll_ok is False:
        polled += " — <strong>the latest poll failed</strong>"
    platforms = sorted({p for view in repo.tags for p in _platforms(view)})
    header = "".join(f"<th>{escape(str(p))}</th>" for p in platforms)
    rows = "".join(_row(view, platforms, now) for view in repo.tags)
    table = (
        f"<table><tr><th>tag</th>{header}<th>complete</th></tr>{rows}</table>"
        if repo.tags
        else "<p>No tags yet.</p>"
    )
    return f"<h2>{title}</h2><p><small>{polled}</small></p>{table}"


def _platforms(view: TagView) -> set[Platform]:
    return set(view.expected) | set(view.state.publication.platforms)


def _row(view: TagView, platforms: list[Platform], now: float) -> str:
    publication = view.state.publication
    cells = []
    for platform in platforms:
        state = publication.platforms.get(platform)
        if state is not None and state.present:
            after = format_duration(state.first_seen - publication.first_seen)
            cells.append(f"<td class='present'>present <small>+{after}</small></td>")
        elif state is not None:
            cells.append("<td class='regressed'>regressed</td>")
        elif platform in view.expected:
            waited = format_duration(now - publication.first_seen)
            cells.append(f"<td class='missing'>missing <small>{waited}</small></td>")
        else:
            cells.append("<td></td>")
    status = "yes" if view.complete else "no"
    css = "" if view.complete else " class='incomplete'"
    return f"<tr{css}><th>{escape(view.state.tag)}</th>{''.join(cells)}<td>{status}</td></tr>"
