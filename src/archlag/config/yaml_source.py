"""Configuration text to a YAML node tree, within bounds: size, depth and node count.

PyYAML composes recursively (a file nested a few hundred levels deep raises RecursionError) and
hands aliases over as shared nodes that a reader walks again at every use (a billion-laughs file
is a few lines). :func:`compose` refuses all of that up front, so nothing past it can run deep
or long. It raises only :class:`~archlag.config.settings.ConfigError`.

:func:`load_documents` reads every document of a multi-document file (Kubernetes manifests,
Compose files that discovery reads) as plain values within the same bounds, the node count taken
over all documents together.
"""

from __future__ import annotations

from typing import Any

import yaml

from archlag.config.bounds import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_NODES
from archlag.config.settings import ConfigError, ConfigIssue


class _LimitExceeded(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts depth and nodes as it goes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _LimitExceeded(f"the document has over {MAX_NODES:,} YAML nodes", self._line())
        if self._depth >= MAX_DEPTH:
            raise _LimitExceeded(f"the document nests deeper than {MAX_DEPTH} levels", self._line())
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _line(self) -> int:
        return int(self.peek_event().start_mark.line) + 1  # type: ignore[no-untyped-call]


def compose(text: str, source: str) -> yaml.Node | None:
    """The root node of ``text`` (None for an empty document).

    Raises:
        ConfigError: the text is larger than :data:`MAX_CONFIG_BYTES`, is not YAML, is nested
            deeper than :data:`MAX_DEPTH`, or has more than :data:`MAX_NODES` nodes once its
            aliases are expanded.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise _error(source, None, f"the file is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # reads the text at once: refuses NUL and the like here
        root = loader.get_single_node()
        _check_expanded_size(root)
    except _LimitExceeded as exc:
        raise _error(source, exc.line, str(exc)) from None
    except yaml.YAMLError as exc:
        line, problem = _where_and_what(exc, text)
        raise _error(source, line, f"not valid YAML: {problem}") from None
    except RecursionError:  # not reached within MAX_DEPTH; kept so that no traceback can be
        raise _error(source, None, "the document nests too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return root


def load_documents(text: str, source: str, max_documents: int = 1000) -> list[Any]:
    """Every document of ``text`` as plain values (dicts, lists, strings, numbers...).

    Raises:
        ConfigError: what :func:`compose` refuses, more than ``max_documents`` documents, or a
            scalar that YAML cannot construct (a date that does not exist...).
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise _error(source, None, f"the file is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
    loader: _BoundedLoader | None = None
    documents: list[Any] = []
    try:
        loader = _BoundedLoader(text)
        while loader.check_node():
            if len(documents) >= max_documents:
                raise _LimitExceeded(f"the file has over {max_documents:,} documents", None)
            node = loader.get_node()
            _check_expanded_size(node)
            documents.append(loader.construct_document(node))
    except _LimitExceeded as exc:
        raise _error(source, exc.line, str(exc)) from None
    except yaml.YAMLError as exc:
        line, problem = _where_and_what(exc, text)
        raise _error(source, line, f"not valid YAML: {problem}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar that cannot be constructed
        raise _error(source, None, f"a value cannot be read: {str(exc)[:200]}") from None
    except RecursionError:  # not reached within MAX_DEPTH
        raise _error(source, None, "the document nests too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _check_expanded_size(root: yaml.Node | None) -> None:
    """Count nodes as a reader meets them: an alias counts what it refers to, at every use."""
    pending, seen = [root] if root is not None else [], 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > MAX_NODES:
            raise _LimitExceeded(
                f"the document expands to more than {MAX_NODES:,} YAML nodes (an alias repeats "
                "what it refers to at every use)",
                None,
            )
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)


def _where_and_what(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        return text.count("\n", 0, exc.position) + 1, str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    return line, getattr(exc, "problem", None) or str(exc).splitlines()[0]


def _error(source: str, line: int | None, message: str) -> ConfigError:
    return ConfigError(source, [ConfigIssue("", line, message)])
