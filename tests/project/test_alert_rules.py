"""The bundled rule file passes promtool's checks and its unit tests (alerts/tests/*.yml)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.support.paths import ROOT

RULES = ROOT / "alerts" / "archlag.rules.yml"
UNIT_TESTS = sorted((ROOT / "alerts" / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/archlag/archlag/blob/main/docs/runbook.md#"
ALERTS = {
    "ArchlagPlatformLate",
    "ArchlagPlatformMissing",
    "ArchlagPlatformRegressed",
    "ArchlagPublicationSpreadHigh",
    "ArchlagRegistryDown",
    "ArchlagExporterDown",
    "ArchlagStalePolling",
    "ArchlagWatchFailing",
    "ArchlagRepositoryNotFound",
    "ArchlagStateFileLost",
    "ArchlagEventsLost",
    "ArchlagShardsMismatch",
    "ArchlagRunningUpdateWaiting",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: install the Debian package prometheus (scripts/test does)")
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, check=False, cwd=ROOT, timeout=120
    )


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests() -> None:
    assert len(UNIT_TESTS) >= 4
    result = promtool("test", "rules", *map(str, UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TESTS), result.stdout


def test_every_alert_is_unit_tested() -> None:
    tested = {
        case["alertname"]
        for path in UNIT_TESTS
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert tested == ALERTS


def test_unit_tests_set_their_input_interval() -> None:
    # promtool 2.42 defaults the input interval to 1m whatever evaluation_interval says.
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            assert "interval" in test, f"{path.name}: {test.get('name')}"


def test_every_alert_has_annotations_and_a_runbook_section() -> None:
    runbook_headings = {
        line.removeprefix("## ").strip().lower()
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert annotations.keys() >= {"summary", "description", "runbook_url"}, rule["alert"]
        anchor = str(rule["alert"]).lower()
        assert annotations["runbook_url"] == RUNBOOK_URL + anchor
        assert anchor in runbook_headings, f"docs/runbook.md lacks a section for {rule['alert']}"
        labels = rule["labels"]
        assert isinstance(labels, dict)
        assert labels["severity"] in {"critical", "warning", "info"}
