"""Hostile and absurd configuration files: exit status 2 and one line per issue, never a traceback.

Each case runs the real ``archlag`` command, as a user would meet it: ``--config.check`` and the
exporter itself both stop at the configuration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archlag.config import ConfigError, ConfigIssue, parse_config
from tests.support.archlag_process import run_archlag

WATCH = "watches: [{image: a/b}]\n"


def billion_laughs() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    return "\n".join(lines) + "\nwatches: [{image: a/b, platforms: *i}]\n"


HOSTILE = {
    "nested 100k deep": (
        "watches: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "line 1: (top level): the document nests deeper than 64 levels",
    ),
    "nested in blocks": (
        "".join(" " * depth + f"k{depth}:\n" for depth in range(200)),
        "line 64: (top level): the document nests deeper than 64 levels",
    ),
    "too large": (
        "# " + "x" * (4 * 1024 * 1024) + "\n" + WATCH,
        "(top level): the file is larger than 4 MiB",
    ),
    "billion laughs": (
        billion_laughs(),
        "(top level): the document expands to more than 100,000 YAML nodes",
    ),
    "an alias that contains itself": (
        "a: &a [*a]\n" + WATCH,
        "(top level): the document expands to more than 100,000 YAML nodes",
    ),
    "a list of a million items": (
        "watches: [" + "1," * 1_000_000 + "]\n",
        "line 1: (top level): the document has over 100,000 YAML nodes",
    ),
    "a duration with 400 digits": (
        "defaults: {interval: " + "9" * 400 + "s}\n" + WATCH,
        "line 1: defaults.interval: '99999999999999999999'... is not a duration: too long",
    ),
    "a number with 5,000 digits": (
        "defaults: {tags: {limit: " + "9" * 5000 + "}}\n" + WATCH,
        "line 1: defaults.tags.limit: must be a whole number (not a valid int value)",
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "archlag.yml"
    path.write_text(text, encoding="utf-8")
    return path


# The exporter reads its configuration exactly as --config.check does; two cases show it.
CASES = [(case, "--config.check") for case in HOSTILE] + [
    ("nested 100k deep", "--log.level=info"),
    ("a duration with 400 digits", "--log.level=info"),
]


@pytest.mark.parametrize(("case", "mode"), CASES)
def test_hostile_files_exit_2_with_a_message(tmp_path: Path, case: str, mode: str) -> None:
    text, expected = HOSTILE[case]
    path = write(tmp_path, text)

    result = run_archlag(mode, "-c", str(path), timeout=60)

    assert result.returncode == 2, result.stderr
    header, *issues = result.stderr.splitlines()
    assert header == f"archlag: {path}: 1 configuration error(s):"
    assert len(issues) == 1, result.stderr
    assert issues[0].startswith(f"  {expected}"), result.stderr


def test_absurd_numbers_are_each_reported_with_their_bounds(tmp_path: Path) -> None:
    buckets = ", ".join(f"{n}s" for n in range(1, 66))
    path = write(
        tmp_path,
        f"""\
latency_buckets: [{buckets}]
defaults:
  interval: 20y
  settled_interval: 101y
  stall_after: 366d
  tags: {{limit: 10001}}
registries:
  docker.io: {{timeout: 2h, max_backoff: 0s, concurrency: 65, requests_per_minute: 0}}
  ghcr.io: {{max_backoff: 2y}}
watches:
  - image: a/b
    platforms: [{", ".join(["linux/amd64"] * 65)}]
    tags: {{limit: 0}}
""",
    )

    result = run_archlag("--config.check", "-c", str(path))

    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  line 1: latency_buckets: must list at most 64 items, not 65",
        "  line 3: defaults.interval: must be at most 365d",
        "  line 4: defaults.settled_interval: '101y' is longer than the longest duration "
        "accepted, 100y",
        "  line 5: defaults.stall_after: must be at most 365d",
        "  line 6: defaults.tags.limit: must be from 1 to 10,000",
        "  line 8: registries.docker.io.concurrency: must be from 1 to 64",
        "  line 8: registries.docker.io.requests_per_minute: must be from 1 to 100,000",
        "  line 8: registries.docker.io.timeout: must be at most 1h",
        "  line 8: registries.docker.io.max_backoff: must be longer than 0s",
        "  line 9: registries.ghcr.io.max_backoff: must be at most 365d",
        "  line 12: watches[0].platforms: must list at most 64 items, not 65",
        "  line 13: watches[0].tags.limit: must be from 1 to 10,000",
    ]


def test_the_largest_accepted_values_load() -> None:
    buckets = ", ".join(f"{n}s" for n in range(1, 65))
    config = parse_config(
        f"latency_buckets: [{buckets}]\n"
        "defaults: {interval: 1y, settled_interval: 365d, stall_after: 1y, tags: {limit: 10000}}\n"
        "registries: {docker.io: {timeout: 1h, max_backoff: 1y, concurrency: 64}}\n" + WATCH,
        environ={},
    )

    assert len(config.latency_buckets) == 64
    assert config.defaults.interval == config.defaults.settled_interval == 365 * 86400
    assert config.registry("docker.io").timeout == 3600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaults: {interval: !!int x}\n" + WATCH, "defaults.interval: must be a duration"),
        ("defaults: {backfill: !!binary xyz}\n" + WATCH, "(not a valid binary value)"),
        ("defaults: {backfill: 2001-13-45}\n" + WATCH, "(not a valid timestamp value)"),
        ("state_file: !!python/object:os.system x\n" + WATCH, "not a valid python/object"),
        (
            "---\n" + WATCH + "---\n" + WATCH,
            "line 3: (top level): not valid YAML: but found another",
        ),
        (WATCH + "\x00", "line 2: (top level): not valid YAML: unacceptable character #x0000"),
    ],
)
def test_odd_yaml_is_an_issue(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match="configuration error") as caught:
        parse_config(text, environ={})
    assert expected in str(caught.value)


def test_control_characters_from_the_file_do_not_break_the_one_line_per_issue_format() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('registries: {"bad\\nhost": {}}\n' + WATCH, "cfg\n.yml", environ={})

    assert str(caught.value).splitlines() == [
        "cfg\\n.yml: 1 configuration error(s):",
        "  line 1: registries.bad\\nhost: is not a registry host such as ghcr.io or 127.0.0.1:5000",
    ]


def test_the_message_lists_the_first_hundred_issues() -> None:
    issues = [ConfigIssue(f"k{n}", n, "unknown key") for n in range(1, 151)]

    lines = str(ConfigError("cfg.yml", issues)).splitlines()

    assert lines[0] == "cfg.yml: 150 configuration error(s):"
    assert lines[100] == "  line 100: k100: unknown key"
    assert lines[101:] == ["  ... and 50 more"]
