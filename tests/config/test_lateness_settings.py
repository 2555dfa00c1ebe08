"""The ``lateness`` setting: defaults, per-watch overrides key by key, and what is refused."""

from __future__ import annotations

import pytest

from archlag.config import ConfigError, parse_config
from archlag.core.lateness import LatenessSettings

WATCHES = "watches:\n  - image: a/b\n  - image: c/d\n    lateness: {margin: 3}\n"


def test_defaults_are_those_of_the_issue() -> None:
    config = parse_config("watches: [{image: a/b}]\n", environ={})

    assert config.watches[0].settings.lateness == LatenessSettings(
        min=300.0, max=86400.0, margin=1.5, min_observations=5
    )


def test_a_watch_overrides_the_defaults_key_by_key() -> None:
    config = parse_config(
        "defaults:\n  lateness: {min: 1m, max: 2h, min_observations: 10}\n" + WATCHES, environ={}
    )

    first, second = (w.settings.lateness for w in config.watches)
    assert first == LatenessSettings(min=60.0, max=7200.0, margin=1.5, min_observations=10)
    assert second == LatenessSettings(min=60.0, max=7200.0, margin=3.0, min_observations=10)


@pytest.mark.parametrize(
    ("lateness", "message"),
    [
        ("{min: 2h, max: 1h}", "defaults.lateness: min (2h) must not be above max (1h)"),
        ("{max: 0s}", "defaults.lateness.max: must be longer than 0s"),
        ("{min: 2y}", "defaults.lateness.min: must be at most 365d"),
        ("{min: 5}", "defaults.lateness.min: must be a duration with a unit"),
        ("{margin: 0.5}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: 101}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: .nan}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: .inf}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: true}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: '2'}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{margin: [2]}", "defaults.lateness.margin: must be a number from 1 to 100"),
        ("{min_observations: 0}", "defaults.lateness.min_observations: must be from 1 to 20"),
        ("{min_observations: 21}", "defaults.lateness.min_observations: must be from 1 to 20"),
        ("{min_observations: 2.5}", "defaults.lateness.min_observations: must be a whole number"),
        ("{percentile: 99}", "defaults.lateness.percentile: unknown key (known keys: margin, max"),
        ("5m", "defaults.lateness: must be a mapping"),
    ],
)
def test_refused_with_the_key_path(lateness: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"defaults:\n  lateness: {lateness}\n" + WATCHES, environ={})

    assert any(message in str(issue) for issue in caught.value.issues), caught.value


def test_a_watch_whose_override_crosses_the_defaults_bounds_is_refused() -> None:
    text = "defaults:\n  lateness: {max: 1h}\nwatches:\n  - image: a/b\n    lateness: {min: 2h}\n"

    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})

    assert [str(i) for i in caught.value.issues] == [
        "line 5: watches[0].lateness: min (2h) must not be above max (1h)"
    ]
