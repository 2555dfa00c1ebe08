"""Secrets read from an environment variable or a file, cleaned at the door.

Kubelet- and Docker-mounted secret files, and values pasted into ``kubectl create secret``, end
in one newline: exactly one trailing ``\\n`` or ``\\r\\n`` is removed. Whatever still holds a
control or other non-printable character is refused, since it would be sent in a header (and a
header error message may quote it). :func:`read_secret` raises :class:`SecretProblem`, whose
message names where the secret was to come from and never contains its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from archlag.config.bounds import MAX_SECRET_BYTES
from archlag.config.settings import SecretRef
from archlag.secrets import Secret


class SecretProblem(ValueError):
    """A secret that cannot be read or used; the message never contains the value."""


def read_secret(ref: SecretRef, environ: Mapping[str, str]) -> Secret:
    """The secret ``ref`` names, with one trailing newline removed.

    Raises:
        SecretProblem: the variable is unset or empty, the file cannot be read, is larger than
            :data:`MAX_SECRET_BYTES` or is not UTF-8, or the value is empty or holds a control
            or other non-printable character.
    """
    if ref.key.endswith("_env"):
        raw = environ.get(ref.name)
        if not raw:
            raise SecretProblem(f"environment variable {ref.name} is not set or empty")
        return Secret(_clean(raw, f"environment variable {ref.name}"))
    return Secret(_clean(_read_file(Path(ref.name)), "secret file"))


def _read_file(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretProblem(f"cannot read secret file: {exc.__class__.__name__}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretProblem(f"secret file is larger than {MAX_SECRET_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretProblem("cannot read secret file: it is not UTF-8 text") from None


def _clean(raw: str, where: str) -> str:
    value = raw.removesuffix("\r\n") if raw.endswith("\r\n") else raw.removesuffix("\n")
    if not value:
        raise SecretProblem(f"{where} is empty")
    bad = next((char for char in value if not char.isprintable()), None)
    if bad is not None:
        raise SecretProblem(
            f"{where} holds a control or non-printable character (U+{ord(bad):04X}); "
            "only one trailing newline is removed"
        )
    return value
