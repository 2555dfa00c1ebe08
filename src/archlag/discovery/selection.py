"""Which workloads are watched: the labels and annotations people set, read in one place.

Every source hands :func:`choose` the labels and annotations of a workload (a pod's, a
container's, a Compose service's, a manifest's) as one mapping:

- ``archlag.io/watch: "false"`` leaves the workload out; ``"true"`` takes it in when
  ``discovery.watch_by_default`` is false;
- without it, diun's ``diun.enable`` says the same, as people already set it for diun;
- diun's ``diun.platform: linux/arm64`` names the platform to check, over what the source found.

Values are ``true`` or ``false`` in any case; anything else is a problem that leaves the default
in place (:attr:`Choice.problem` says so, for the source's log line). Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from archlag.core.platforms import Platform, PlatformError, parse_platform

WATCH = "archlag.io/watch"
DIUN_ENABLE = "diun.enable"
DIUN_PLATFORM = "diun.platform"
_MAX_VALUE = 100  # characters of a value worth reading; a longer one is a problem


@dataclass(frozen=True, slots=True)
class Choice:
    watched: bool
    platform: Platform | None = None  # named by diun.platform
    problem: str | None = None  # a mark that could not be read (its default applies)


def choose(marks: Mapping[str, str], *, watch_by_default: bool) -> Choice:
    """Whether a workload with these labels and annotations is watched, and on what platform."""
    watched, problems = watch_by_default, []
    for key in (WATCH, DIUN_ENABLE):
        value = marks.get(key)
        if value is None:
            continue
        flag = _flag(value)
        if flag is None:
            problems.append(f"{key} must be true or false")
            continue
        watched = flag
        break
    platform = None
    value = marks.get(DIUN_PLATFORM)
    if value is not None:
        try:
            platform = parse_platform(str(value)[:_MAX_VALUE])
        except PlatformError:
            problems.append(f"{DIUN_PLATFORM} is not a platform such as linux/arm64")
    return Choice(watched, platform, "; ".join(problems) or None)


def marks_of(*mappings: object) -> dict[str, str]:
    """Labels and annotations merged, later ones winning. YAML's ``true`` and numbers count as
    their text; keys that are not strings and other values are left out."""
    merged: dict[str, str] = {}
    for mapping in mappings:
        if not isinstance(mapping, Mapping):
            continue
        for key, value in mapping.items():
            text = ("true" if value else "false") if isinstance(value, bool) else value
            if isinstance(key, str) and isinstance(text, str | int | float):
                merged[key] = str(text)
    return merged


def _flag(value: object) -> bool | None:
    text = str(value)[:_MAX_VALUE].strip().lower()
    return {"true": True, "false": False}.get(text)
