"""The alert rules evaluated by ``promtool test rules`` on a real archlag's ``/metrics``.

A scrape is turned into constant input series (``job="archlag"``, one instance) and its Unix
times (every ``*_timestamp_seconds`` value) are moved so that a chosen moment falls at
:data:`ORIGIN` seconds of promtool's clock, which starts at 0. Then ``ALERTS`` is read at chosen
offsets from that moment: what Prometheus would have paged at those instants, deterministically,
without waiting for them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from tests.support.archlag_process import Scrape
from tests.support.dashboards import RULES_PATH

ORIGIN = 60.0  # promtool seconds at which the chosen moment falls
_SPAN = 300  # one-second samples of every input series
_LABELS = {"job": "archlag", "instance": "archlag:10043"}


def _selector(name: str, labels: Mapping[str, str]) -> str:
    escaped = (
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return f"{name}{{{','.join(escaped)}}}"


def input_series(scrape: Scrape, moment: float, keep: Mapping[str, str]) -> list[dict[str, str]]:
    """The scrape's samples whose labels include ``keep``, as promtool input series; their
    timestamps moved so that ``moment`` is :data:`ORIGIN`."""
    found = []
    for (name, labels), sampled in sorted(scrape.samples.items(), key=repr):
        label_map = dict(labels)
        if not keep.items() <= label_map.items():
            continue
        moved = name.endswith("_timestamp_seconds")
        value = sampled - moment + ORIGIN if moved else sampled
        if value < 0:
            continue  # promtool's notation has no negative start; no rule reads such a time
        series = _selector(name, {**label_map, **_LABELS})
        found.append({"series": series, "values": f"{value!r}x{_SPAN}"})
    return found


def alerts_at(
    workdir: Path,
    scrape: Scrape,
    moment: float,
    keep: Mapping[str, str],
    expected: Mapping[float, Sequence[Mapping[str, str]]],
) -> subprocess.CompletedProcess[str]:
    """Run promtool: at each offset (seconds after ``moment``) the firing alerts must be
    exactly ``expected[offset]`` (each alert's labels, ``alertname`` included; ``job`` is
    added, as the rules keep it)."""
    cases = []
    for offset, alerts in expected.items():
        cases.append(
            {
                "expr": 'ALERTS{alertstate="firing"}',
                "eval_time": f"{round((ORIGIN + offset) * 1000)}ms",
                "exp_samples": [
                    {
                        "labels": _selector(
                            "ALERTS", {**a, "alertstate": "firing", "job": _LABELS["job"]}
                        ),
                        "value": 1,
                    }
                    for a in alerts
                ],
            }
        )
    document = {
        "rule_files": [str(RULES_PATH)],
        "evaluation_interval": "1s",
        "tests": [
            {
                "interval": "1s",
                "input_series": input_series(scrape, moment, keep),
                "promql_expr_test": cases,
            }
        ],
    }
    path = workdir / "replay.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        ["promtool", "test", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
