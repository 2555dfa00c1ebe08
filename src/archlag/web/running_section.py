"""The status page's "What you run" section: each image that runs (found by discovery), per
platform it runs on, whether the next release is out for it.

Every string that came from a registry, a cluster or a file goes through :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from archlag.core.durations import format_duration
from archlag.core.snapshots import RunningStatus
from archlag.core.updates import AVAILABLE, CURRENT, UNKNOWN, WAITING

STYLE = """
tr.waiting td.update{background:#ffe89a;font-weight:600}
tr.available td.update{background:#e3f4e3}
"""


def running_section(running: Sequence[RunningStatus], now: float) -> str:
    """The section, or "" when discovery found nothing (or is not configured)."""
    if not running:
        return ""
    rows = "".join(_row(status, now) for status in running)
    return (
        "<section class='running'><h2>What you run</h2>"
        "<table class='running'><thead><tr><th scope='col'>image</th><th scope='col'>tag</th>"
        "<th scope='col'>platform</th><th scope='col'>containers</th>"
        "<th scope='col'>newest release</th><th scope='col'>update</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _row(status: RunningStatus, now: float) -> str:
    image = status.image
    name = escape(f"{image.registry}/{image.repository}")
    tag = escape(status.tag or (image.digest or "")[:19])
    platform = escape(str(image.platform))
    counts = ", ".join(f"{n} ({escape(source)})" for source, n in sorted(image.containers.items()))
    newest = escape(status.newest or status.waiting_for or (status.tag or ""))
    return (
        f"<tr class='{escape(status.state)}' data-image='{name}' data-platform='{platform}'>"
        f"<th scope='row'>{name}</th><td>{tag}</td><td>{platform}</td><td>{counts}</td>"
        f"<td>{newest}</td><td class='update'>{_update(status, now)}</td></tr>"
    )


def _update(status: RunningStatus, now: float) -> str:
    platform = escape(str(status.image.platform))
    if status.state == CURRENT:
        return "up to date"
    if status.state == AVAILABLE:
        return f"out for you: {escape(status.newest or '')}"
    if status.state == WAITING:
        waited = ""
        if status.waiting_since is not None:
            waited = f" for {format_duration(max(now - status.waiting_since, 0.0))}"
        release = escape(status.waiting_for or "")
        return f"waiting for {platform}{waited} <small>({release} lacks it)</small>"
    assert status.state == UNKNOWN
    return f"unknown <small>{escape(status.reason)}</small>"
