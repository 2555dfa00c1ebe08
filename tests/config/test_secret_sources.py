"""Secrets from variables and files: one trailing newline removed, control characters refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlag.config import ConfigError, SecretRef, parse_config
from tests.support.archlag_process import run_archlag

SECRET = "s3cret-Planted-9f2c"


def token_config(key: str, name: str) -> str:
    return f"registries: {{ghcr.io: {{{key}: '{name}'}}}}\nwatches: [{{image: ghcr.io/a/b}}]\n"


def password_config(key: str, name: str) -> str:
    return (
        f"registries: {{ghcr.io: {{username: ci, {key}: '{name}'}}}}\n"
        "watches: [{image: ghcr.io/a/b}]\n"
    )


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
@pytest.mark.parametrize("source", ["env", "file"])
def test_one_trailing_newline_is_removed(tmp_path: Path, source: str, ending: str) -> None:
    value = SECRET + ending
    if source == "env":
        text, environ = token_config("token_env", "TOKEN"), {"TOKEN": value}
    else:
        (tmp_path / "token").write_bytes(value.encode())
        text, environ = token_config("token_file", str(tmp_path / "token")), {}

    registry = parse_config(text, environ=environ).registry("ghcr.io")

    assert registry.token is not None
    assert registry.token.reveal() == SECRET


def test_a_password_keeps_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")

    registry = parse_config(password_config("password_file", str(tmp_path / "pw"))).registry(
        "ghcr.io"
    )

    assert registry.password is not None
    assert registry.password.reveal() == SECRET
    assert registry.password_from == SecretRef("password_file", str(tmp_path / "pw"))
    assert registry.token_from is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (SECRET + "\n\n", "U+000A"),  # two newlines: only one is the file's ending
        (SECRET + "\r\n\r\n", "U+000D"),
        (SECRET + "\r", "U+000D"),
        ("Bearer\t" + SECRET, "U+0009"),
        (SECRET + "\x1b[0m", "U+001B"),
        (SECRET + "\x7f", "U+007F"),
        (SECRET + "\u200b", "U+200B"),  # zero-width space
        (SECRET + "\u00a0", "U+00A0"),  # no-break space
        ("\n" + SECRET, "U+000A"),
    ],
)
@pytest.mark.parametrize("source", ["env", "file"])
def test_control_characters_are_refused_without_showing_the_value(
    tmp_path: Path, source: str, value: str, code: str
) -> None:
    if source == "env":
        text, environ, where = token_config("token_env", "TOKEN"), {"TOKEN": value}, "env"
    else:
        (tmp_path / "token").write_bytes(value.encode())
        text, environ, where = token_config("token_file", str(tmp_path / "token")), {}, "file"

    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ=environ)

    message = str(caught.value)
    assert f"registries.ghcr.io.token_{where}: " in message
    assert f"holds a control or non-printable character ({code})" in message
    assert SECRET not in message
    assert "Bearer" not in message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\n", "secret file is empty"),
        (b"\xff\xfe" + SECRET.encode(), "cannot read secret file: it is not UTF-8 text"),
        (b"x" * (64 * 1024 + 1), "secret file is larger than 64 KiB"),
    ],
)
def test_unusable_secret_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    (tmp_path / "token").write_bytes(content)

    with pytest.raises(ConfigError, match="token_file: ") as caught:
        parse_config(token_config("token_file", str(tmp_path / "token")), environ={})

    assert fragment in str(caught.value)


def test_unicode_secrets_are_accepted() -> None:
    registry = parse_config(
        token_config("token_env", "T"), environ={"T": "pässwörd-日本"}
    ).registry("ghcr.io")

    assert registry.token is not None
    assert registry.token.reveal() == "pässwörd-日本"


def test_config_check_refuses_a_secret_with_two_newlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archlag.yml"
    path.write_text(password_config("password_env", "ARCHLAG_TEST_PASSWORD"))
    monkeypatch.setenv("ARCHLAG_TEST_PASSWORD", SECRET + "\n\n")

    result = run_archlag("--config.check", "-c", str(path))

    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  line 1: registries.ghcr.io.password_env: environment variable ARCHLAG_TEST_PASSWORD "
        "holds a control or non-printable character (U+000A); only one trailing newline is "
        "removed"
    ]
    assert SECRET not in result.stdout + result.stderr
