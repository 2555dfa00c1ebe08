"""Per-architecture suffix tags (``2.6.1-arm64``) read as platforms of their base tag (``2.6.1``).

Some projects push one tag per architecture before (or instead of) the combined index. A watch's
``platform_tags`` template, such as ``{tag}-{arch}``, says how those are named. Only known
architecture spellings match, so ``2.6.1-rc1`` stays a tag of its own. Templates are checked by
:func:`template_problem` when the configuration is loaded; tags are matched in full (``fullmatch``:
``$`` would let ``2.0-arm64\n`` through) and only up to the OCI tag length, 128 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from archlag.core.platforms import Platform, normalize

# Spellings seen in per-arch tags, with the (architecture, variant) they stand for.
_ARCHES = {
    "amd64": ("amd64", ""), "x86_64": ("amd64", ""), "x86-64": ("amd64", ""),
    "arm64": ("arm64", ""), "aarch64": ("arm64", ""), "arm64v8": ("arm64", ""),
    "arm": ("arm", "v7"), "armv7": ("arm", "v7"), "arm32v7": ("arm", "v7"), "armhf": ("arm", "v7"),
    "armv6": ("arm", "v6"), "arm32v6": ("arm", "v6"), "armel": ("arm", "v6"),
    "386": ("386", ""), "i386": ("386", ""), "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""), "mips64le": ("mips64le", ""),
}  # fmt: skip
_FIELDS = {
    "tag": r"(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]*?)",
    "arch": "(?P<arch>" + "|".join(sorted(map(re.escape, _ARCHES), key=len, reverse=True)) + ")",
    "os": r"(?P<os>linux|windows|darwin|freebsd)",
    "variant": r"(?P<variant>v[0-9][0-9a-z.]*)",
}
_PLACEHOLDER = re.compile(r"\{(tag|arch|os|variant)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_TAG_LENGTH = 128  # the OCI distribution spec's tag grammar: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}


def template_problem(template: str) -> str | None:
    """Why a ``platform_tags`` template is unusable, or None when it is fine."""
    names = _ANY_PLACEHOLDER.findall(template)
    unknown = sorted(set(names) - set(_FIELDS))
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}} (use {{tag}}, {{os}}, {{arch}}, {{variant}})"
    if names.count("tag") != 1 or names.count("arch") != 1:
        return "must contain {tag} and {arch} once each, e.g. '{tag}-{arch}'"
    repeated = sorted(name for name in set(names) if names.count(name) > 1)
    if repeated:
        return f"{{{repeated[0]}}} may appear only once"
    return None


@dataclass(frozen=True, slots=True)
class Grouping:
    """Listed tags sorted into base tags and, per base tag, its per-platform suffix tags."""

    bases: tuple[str, ...]  # base tags: listed ordinary tags and bases named only by suffix tags
    listed: frozenset[str]  # the base tags that exist as tags themselves
    parts: dict[str, dict[Platform, str]] = field(default_factory=dict)


class PlatformTags:
    """A compiled ``platform_tags`` template, one that :func:`template_problem` accepts."""

    def __init__(self, template: str) -> None:
        pattern, position = "", 0
        for match in _PLACEHOLDER.finditer(template):
            pattern += re.escape(template[position : match.start()]) + _FIELDS[match[1]]
            position = match.end()
        self._pattern = re.compile(pattern + re.escape(template[position:]))

    def parse(self, tag: str) -> tuple[str, Platform] | None:
        """The base tag and platform a suffix tag stands for, or None for an ordinary tag."""
        match = self._pattern.fullmatch(tag) if len(tag) <= MAX_TAG_LENGTH else None
        if match is None:
            return None
        groups = match.groupdict()
        architecture, variant = _ARCHES[groups["arch"]]
        variant = groups.get("variant") or variant
        return groups["tag"], normalize(groups.get("os") or "linux", architecture, variant)

    def group(self, listed: Iterable[str]) -> Grouping:
        ordinary: dict[str, None] = {}
        parts: dict[str, dict[Platform, str]] = {}
        for tag in listed:
            parsed = self.parse(tag)
            if parsed is None:
                ordinary[tag] = None
            else:
                base, platform = parsed
                parts.setdefault(base, {}).setdefault(platform, tag)
        bases = tuple(dict.fromkeys([*ordinary, *parts]))
        return Grouping(bases, frozenset(ordinary), parts)
