"""The docs say what the code does: the README's metrics table and PromQL examples, and the
files docs/deployment.md names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from archlag.core.figures import WatchFigures
from archlag.core.platforms import parse_platform
from archlag.core.publication import Content, apply_content, begin_expectations
from archlag.core.snapshots import ListenerFigures, LiveSnapshot, RegistryStatus, Snapshot
from archlag.events.event_tally import EventTally
from archlag.metrics import render_snapshot
from archlag.polling.repository_state import RepositoryState
from archlag.registry.request_tally import RequestTally
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def exported_metrics() -> dict[str, str]:
    """Every metric family archlag exports, with its type, from a small but full state."""
    figures = WatchFigures(last_poll_success=1.0, last_poll_ok=True, last_event=1.0)
    repo = RepositoryState("docker.io", "gotify/server", (0.0, 60.0), figures=figures)
    amd = parse_platform("linux/amd64")
    found = Content("sha256:i", {amd: "sha256:a"})
    state = apply_content(None, "1.0", found, 1.0, absent_at=0.5).state
    repo.tags = begin_expectations({"1.0": state}, frozenset({amd}))
    repo.selected = ("1.0",)
    repo.delays[amd] = repo.spread
    repo.backfill = True
    requests, events = RequestTally(), EventTally(["local"])
    requests.known("docker.io")
    requests.request_finished("docker.io", "HEAD", "ok", 0.1)
    events.proven("local", 1.0)
    live = LiveSnapshot(
        registries=(RegistryStatus("docker.io", 100, 50, 21600.0),),
        requests=requests.snapshot(),
        receivers=events.snapshot(),
        version="0",
        listeners=(ListenerFigures("main", 1, {"client_full": 1}, 1),),
        web_config_successful=True,
        web_config_success_time=1.0,
    )
    text = render_snapshot(Snapshot((repo.snapshot(60, 60),)), live=live)
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_readme_metrics_table_matches_the_exposition() -> None:
    table = dict(re.findall(r"^\| `(archlag_\w+)` \| (\w+) \|", README, re.MULTILINE))
    exported = {
        name + ("_total" if kind == "counter" else ""): kind
        for name, kind in exported_metrics().items()
    }
    assert table == exported


def test_readme_promql_examples_parse(tmp_path: Path) -> None:
    block = README.split("```promql", 1)[1].split("```", 1)[0]
    expressions = [e for e in re.split(r"\n\s*\n", block) if e.strip()]
    rules = [
        {"record": f"readme:example{i}", "expr": re.sub(r"(?m)^#.*\n", "", expr)}
        for i, expr in enumerate(expressions)
    ]
    path = tmp_path / "readme.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "readme", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_deployment_docs_name_only_existing_files() -> None:
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    named = re.findall(r"`((?:deploy|alerts|dashboards|scripts|tests|docs)/[^`\s]*)`", text)
    assert "deploy/compose/archlag.yml" in named
    for path in named:
        assert (ROOT / path).exists(), path
