"""Reading values out of YAML nodes, collecting a :class:`ConfigIssue` for each problem.

The shapes every section of the file is made of: mappings with known keys, lists, scalars of a
type, durations and numbers within bounds. Nothing here raises: a value that cannot be read is
recorded as an issue (key path and line) and returned as None, so that the loader reports every
problem of a file at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import yaml

from archlag.config.settings import ConfigIssue
from archlag.core.durations import DurationError, format_duration, parse_duration

T = TypeVar("T")
Node = yaml.Node
_MAX_KEY_IN_PATH = 80  # characters of a key shown in a key path
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


def join(path: str, key: str) -> str:
    """The key path of ``key`` below ``path`` (``defaults.tags``); long keys are shortened."""
    if len(key) > _MAX_KEY_IN_PATH:
        key = key[:_MAX_KEY_IN_PATH] + "..."
    return f"{path}.{key}" if path else key


class _Invalid:
    """A scalar that YAML itself cannot construct (``!!int x``, a 5,000-digit number...)."""


_INVALID = _Invalid()


class NodeReader:
    """Converts nodes to values; ``issues`` collects what could not be converted."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []
        self._scalars = yaml.constructor.SafeConstructor()

    def error(self, path: str, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.issues.append(ConfigIssue(path, line, message))

    def mapping(self, node: Node, path: str, allowed: set[str]) -> dict[str, Node] | None:
        """The mapping's values by key; unknown (when ``allowed``) and duplicate keys are issues."""
        if not isinstance(node, yaml.MappingNode):
            self.error(path, node, "must be a mapping (key: value)")
            return None
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            sub = join(path, str(key))
            if key is None:
                self.error(path, key_node, "keys must be plain strings")
            elif key in result:
                self.error(sub, key_node, "duplicate key")
            elif allowed and key not in allowed:
                known = ", ".join(sorted(allowed))
                self.error(sub, key_node, f"unknown key (known keys: {known})")
            else:
                result[key] = value_node
        return result

    def scalar(self, node: Node, path: str, kind: type[T], what: str) -> T | None:
        value = self._construct(node) if isinstance(node, yaml.ScalarNode) else node
        # bool is an int in Python; a YAML "true" where a number belongs is still an error.
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        self.error(path, node, f"must be {what}{_invalid_note(node, value)}")
        return None

    def items(self, node: Node, path: str, most: int | None = None) -> Iterator[tuple[str, Node]]:
        """Each item with its key path; more than ``most`` items is an issue (none are read)."""
        if not isinstance(node, yaml.SequenceNode):
            self.error(path, node, "must be a list")
            return
        if most is not None and len(node.value) > most:
            self.error(path, node, f"must list at most {most} items, not {len(node.value)}")
            return
        for index, item in enumerate(node.value):
            yield f"{path}[{index}]", item

    def each(
        self,
        node: Node,
        path: str,
        convert: Callable[[str], T],
        most: int | None = None,
    ) -> list[T]:
        """Each string item converted; a ValueError from ``convert`` is that item's issue."""
        results = []
        for sub, item in self.items(node, path, most):
            text = self.scalar(item, sub, str, "a string")
            if text is None:
                continue
            try:
                results.append(convert(text))
            except ValueError as exc:
                self.error(sub, item, str(exc))
        return results

    def duration(self, node: Node, path: str, high: float | None = None) -> float | None:
        """Seconds from ``30s``, ``1h30m`` or ``0``, at most ``high`` when given."""
        value = self._construct(node) if isinstance(node, yaml.ScalarNode) else None
        seconds: float | None = None
        if value == 0 and not isinstance(value, bool):
            seconds = 0.0
        elif not isinstance(value, str):
            self.error(path, node, "must be a duration with a unit, like 30s, 5m or 1h")
        else:
            try:
                seconds = parse_duration(value)
            except DurationError as exc:
                self.error(path, node, str(exc))
        if seconds is not None and high is not None and seconds > high:
            self.error(path, node, f"must be at most {format_duration(high)}")
            return None
        return seconds

    def bounded_duration(
        self, fields: dict[str, Node], path: str, name: str, high: float, *, positive: bool
    ) -> float | None:
        """``fields[name]`` as seconds up to ``high``; above 0s when ``positive``."""
        if name not in fields:
            return None
        seconds = self.duration(fields[name], join(path, name), high)
        if seconds is not None and positive and seconds <= 0:
            self.error(join(path, name), fields[name], "must be longer than 0s")
            return None
        return seconds

    def bounded_int(
        self, fields: dict[str, Node], path: str, name: str, bounds: tuple[int, int]
    ) -> int | None:
        """``fields[name]`` as a whole number from ``bounds[0]`` to ``bounds[1]``."""
        if name not in fields:
            return None
        low, high = bounds
        value = self.scalar(fields[name], join(path, name), int, "a whole number")
        if value is not None and not low <= value <= high:
            self.error(join(path, name), fields[name], f"must be from {low:,} to {high:,}")
            return None
        return value

    def _construct(self, node: Node) -> Any:
        try:
            return self._scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError):
            return _INVALID


def _invalid_note(node: Node, value: Any) -> str:
    if value is not _INVALID:
        return ""
    tag = str(node.tag).removeprefix(_YAML_TAG_PREFIX)
    return f" (not a valid {tag[:40]} value)"
