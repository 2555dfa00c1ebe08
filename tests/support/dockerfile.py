"""Read a Dockerfile and a .dockerignore as a build would, for tests that have no Docker engine.

Supports what archlag's Dockerfile uses: comments, line continuations, global ``ARG`` defaults
substituted into ``FROM``, ``--flag=value`` options and exec-form (JSON) arguments. The
.dockerignore matcher follows Docker's rules closely enough for an allowlist: the last matching
pattern wins, ``!`` re-includes, a pattern that matches a directory matches everything in it,
and ``**`` spans directories.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str  # everything after the keyword, continuation lines joined with a space

    def options(self) -> dict[str, str]:
        """The leading ``--name=value`` options, as in ``COPY --from=build``."""
        found: dict[str, str] = {}
        for word in self.arguments.split():
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            found[name] = value
        return found

    def operands(self) -> str:
        """The arguments after the leading options."""
        words = self.arguments.split(" ")
        while words and (words[0].startswith("--") or not words[0]):
            words.pop(0)
        return " ".join(words)

    def exec_form(self) -> list[str]:
        """The JSON array form (``CMD ["a", "b"]``); a shell-form string is an error here."""
        value = json.loads(self.operands())
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{self.keyword} is not in exec form: {self.arguments}")
        return value

    def words(self) -> list[str]:
        """The operands split like a shell would (``LABEL a="b c"``, ``COPY src dest``)."""
        return shlex.split(self.operands())


@dataclass(frozen=True, slots=True)
class Stage:
    base: str  # the FROM image with global ARG defaults substituted
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise LookupError(f"stage {self.name or self.base} has no {keyword}")
        return found[-1]

    def arg_defaults(self) -> dict[str, str]:
        return _arg_defaults(self.instructions)

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                values[name] = value
        return values

    def labels(self) -> dict[str, str]:
        """Labels with this stage's ARG defaults substituted, as a build without --build-arg."""
        args = self.arg_defaults()
        values: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                values[name] = substitute(value, args)
        return values


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"${name} has no default")
        return values[name]

    return _VARIABLE.sub(replace, text)


def _arg_defaults(instructions: tuple[Instruction, ...] | list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ARG":
            name, _, value = instruction.arguments.partition("=")
            values[name.strip()] = value.strip()
    return values


def instructions(text: str) -> list[Instruction]:
    found: list[Instruction] = []
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments may sit between continuation lines, too
        continued = line.endswith("\\")
        pending.append(line.removesuffix("\\").strip())
        if not continued:
            keyword, _, arguments = " ".join(pending).partition(" ")
            found.append(Instruction(keyword.upper(), arguments.strip()))
            pending = []
    if pending:
        raise ValueError("the Dockerfile ends inside a continued line")
    return found


def parse_dockerfile(text: str) -> list[Stage]:
    """The build stages in order; instructions before the first FROM only provide ARGs."""
    parsed = instructions(text)
    starts = [n for n, i in enumerate(parsed) if i.keyword == "FROM"]
    if not starts:
        raise ValueError("no FROM instruction")
    global_args = _arg_defaults(parsed[: starts[0]])
    stages = []
    for start, end in zip(starts, [*starts[1:], len(parsed)], strict=True):
        words = parsed[start].operands().split()
        name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
        base = substitute(words[0], global_args)
        stages.append(Stage(base, name, tuple(parsed[start + 1 : end])))
    return stages


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


@dataclass(frozen=True, slots=True)
class DockerIgnore:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]  # (re-includes, pattern)

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
        rules = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            rules.append((include, _pattern_regex(pattern)))
        return cls(tuple(rules))

    def ignores(self, path: str) -> bool:
        """Whether the context path (``src/archlag/cli.py``) is left out of the build context."""
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        ignored = False
        for include, regex in self.rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                ignored = not include
        return ignored
