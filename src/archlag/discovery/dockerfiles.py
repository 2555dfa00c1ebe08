"""Dockerfiles: the images their stages start ``FROM``.

:func:`dockerfile_images` reads ``FROM [--platform=P] IMAGE [AS NAME]`` lines as BuildKit does:
parser directives at the top (``# escape=`` changes the line continuation character), lines
continued with it, comment lines inside a continuation dropped, and ``ARG NAME=default`` lines
before the first ``FROM`` expanded in ``FROM`` (``$NAME``, ``${NAME}``, ``${NAME:-word}``...).
A ``FROM`` that names an earlier stage, or ``scratch``, is not an image. A ``--platform`` that
refers to ``$BUILDPLATFORM`` or ``$TARGETPLATFORM`` says nothing fixed: such a stage runs on
``discovery.files.platforms``.
"""

from __future__ import annotations

import re

from archlag.core.platforms import Platform, PlatformError, parse_platform
from archlag.discovery.compose_env import InterpolationError, interpolate
from archlag.discovery.file_findings import FileFindings, FileImage
from archlag.discovery.limits import MAX_SERVICES

DOCKERFILE_NAMES = re.compile(
    r"(?:Dockerfile|Containerfile)(?:\..+)?|.+\.(?:Dockerfile|Containerfile)", re.IGNORECASE
)
_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*")
_ARG = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?")
_PLATFORM_ARGS = re.compile(r"\$\{?(?:BUILD|TARGET)(?:PLATFORM|OS|ARCH|VARIANT)\b")


def dockerfile_images(text: str) -> FileFindings:
    """The images of a Dockerfile's stages."""
    findings = FileFindings()
    arguments: dict[str, str] = {}
    stages: set[str] = set()
    for instruction, rest in _instructions(text):
        if instruction == "ARG" and not stages:  # only ARGs before the first FROM count there
            arguments.update(_arguments(rest))
        elif instruction == "FROM":
            if len(stages) >= MAX_SERVICES:
                findings.notes.append(f"more than {MAX_SERVICES} stages: the rest are not read")
                break
            _from(rest, len(stages), arguments, stages, findings)
    return findings


def _from(
    rest: str, index: int, arguments: dict[str, str], stages: set[str], findings: FileFindings
) -> None:
    words = rest.split()
    platform_text = None
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag.lower() == "--platform":
            platform_text = value
    name = f"stage {index}"
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
    elif len(words) != 1:
        findings.problem(name, "FROM is not FROM [--platform=P] IMAGE [AS NAME]")
        stages.add(name)
        return
    stages_before = set(stages)
    stages.add(name)
    try:
        image = interpolate(words[0], arguments)
    except InterpolationError as exc:
        findings.problem(name, str(exc))
        return
    if image.lower() in stages_before or image.lower() == "scratch":
        return
    try:
        platform = _platform(platform_text, arguments)
    except (InterpolationError, PlatformError) as exc:
        findings.problem(name, f"--platform: {exc}")
        return
    findings.images.append(FileImage(image, name, name, platform))


def _platform(text: str | None, arguments: dict[str, str]) -> Platform | None:
    if not text or _PLATFORM_ARGS.search(text):
        return None  # the build's own platform or the target: what files.platforms says
    return parse_platform(interpolate(text, arguments))


def _arguments(rest: str) -> dict[str, str]:
    found = {}
    for word in rest.split():
        match = _ARG.fullmatch(word)
        if match is not None and match[2] is not None:
            found[match[1]] = match[2].strip("\"'")
    return found


def _instructions(text: str) -> list[tuple[str, str]]:
    """Each instruction (upper case) with the rest of its logical line."""
    escape = "\\"
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (directive := _DIRECTIVE.fullmatch(lines[start].strip())):
        if directive[1].lower() == "escape" and directive[2] in ("\\", "`"):
            escape = directive[2]
        start += 1
    found: list[tuple[str, str]] = []
    pending: list[str] = []
    for line in lines[start:]:
        stripped = line.strip()
        if stripped.startswith("#") or (pending and not stripped):
            continue  # comments, and empty lines inside a continuation
        if stripped.endswith(escape):
            pending.append(stripped[:-1])
            continue
        logical = " ".join([*pending, stripped]).strip()
        pending = []
        if logical:
            instruction, _, rest = logical.partition(" ")
            found.append((instruction.upper(), rest.strip()))
    return found
