"""Platforms as ``os/arch[/variant]``, normalised the way containerd normalises them.

``aarch64`` and ``arm64/v8`` both become ``linux/arm64``, bare ``arm`` becomes ``arm/v7``,
``x86_64`` becomes ``amd64``: one platform has one spelling, so label values and comparisons
agree whichever spelling a registry or a user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"[a-z0-9][a-z0-9._-]*")  # whole parts only: fullmatch, never $


class PlatformError(ValueError):
    """A platform string that is not ``os/arch[/variant]``."""


@dataclass(frozen=True, slots=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @property
    def is_unknown(self) -> bool:
        """True for the ``unknown/unknown`` placeholder that attestation manifests carry."""
        return self.os == "unknown" or self.architecture == "unknown"


def normalize(os: str, architecture: str, variant: str = "") -> Platform:
    """Return the canonical platform for the given parts (containerd's rules)."""
    os = os.strip().lower()
    arch = architecture.strip().lower()
    variant = variant.strip().lower()
    if os == "macos":
        os = "darwin"
    if arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        if variant == "v1":
            variant = ""
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        if variant in ("8", "v8"):
            variant = ""
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    elif arch == "i386":
        arch, variant = "386", ""
    return Platform(os, arch, variant)


def parse_platform(text: str) -> Platform:
    """Parse ``os/arch[/variant]`` (as in ``docker --platform``) and normalise it.

    Raises:
        PlatformError: the text does not have two or three non-empty, sane parts.
    """
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(_PART.fullmatch(p.lower()) for p in parts):
        raise PlatformError(f"{text!r} is not a platform of the form os/arch[/variant]")
    return normalize(*parts)
