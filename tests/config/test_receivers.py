"""The receivers section: every mistake is an error with its key path; secrets are required."""

from __future__ import annotations

import pytest

from archlag.config import ConfigError, parse_config

WATCH = "watches: [{image: 127.0.0.1:5000/demo/app}]\n"


def issues(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(WATCH + text, environ={"S": "s3cret"} if environ is None else environ)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("receivers", "expected"),
    [
        ("[{name: a, type: distribution}]", "receivers[0]: needs secret_env or secret_file"),
        ("[{type: quay, secret_env: S}]", "receivers[0]: needs a name"),
        ("[{name: a, secret_env: S}]", "receivers[0]: needs a type"),
        ("[{name: A/b, type: quay, secret_env: S}]", "receivers[0].name: must be 1-63 lower-case"),
        ("[{name: a, type: ecr, secret_env: S}]", "receivers[0].type: must be one of distribution"),
        ("[{name: a, type: quay, secret_env: S, secret_file: /x}]", "set only one of secret_env"),
        ("[{name: a, type: quay, secret_env: NOPE}]", "environment variable NOPE is not set"),
        ("[{name: a, type: quay, secret_env: S, registry: 'a b'}]", "is not a registry host"),
        ("[{name: a, type: quay, secret_env: S, events_per_second: 0}]", "must be from 1 to"),
        ("[{name: a, type: quay, secret_env: S, url: x}]", "receivers[0].url: unknown key"),
        (
            "[{name: a, type: quay, secret_env: S}, {name: a, type: github, secret_env: S}]",
            "receivers[1].name: another receiver is named a",
        ),
    ],
)
def test_receiver_mistakes_are_named(receivers: str, expected: str) -> None:
    found = issues(f"receivers: {receivers}\n")
    assert any(expected in issue for issue in found), found


def test_a_secret_with_a_control_character_is_refused_without_showing_it() -> None:
    found = issues(
        "receivers: [{name: a, type: generic, secret_env: S}]\n", environ={"S": "Zq9\x07Xw\n"}
    )
    assert any("non-printable character" in issue for issue in found)
    assert not any("Zq9" in issue or "Xw" in issue for issue in found)


def test_events_listen_is_an_address() -> None:
    assert any("events_listen" in issue for issue in issues("events_listen: nowhere\n"))
