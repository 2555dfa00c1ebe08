"""Tag filters (``tags.include`` / ``tags.exclude``), matched in linear time with RE2.

A tag filter's patterns come from the user, its tags from a registry: with a backtracking engine,
``^(\\d+\\.?)+$`` meeting one 40-character tag pins the process. RE2 (Google's engine, bound as
``re2``) guarantees time linear in the tag's length for every pattern it accepts; its syntax is
Python's for everything but backreferences and look-around, which it refuses.

Differences from Python's ``re`` that a user can notice are refused or documented: ``$`` anchors
the end of the tag (there is no "before a final newline"), ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are
ASCII (as OCI tags are), ``\\Z`` is spelled ``\\z``, and ``{,n}`` (which RE2 would read as text)
is refused in favour of ``{0,n}``.

:func:`tag_pattern_problem` says why a pattern cannot be used; :class:`TagFilter` raises
:class:`TagPatternError` for such a pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import re2

from archlag.config.bounds import MAX_PATTERN_LENGTH

_UNSUPPORTED_OPERATORS = (
    ("(?P=", "backreferences such as (?P=name) are not supported"),
    ("(?=", "lookahead (?=...) is not supported"),
    ("(?!", "negative lookahead (?!...) is not supported: list the tags to drop under exclude"),
    ("(?<=", "lookbehind (?<=...) is not supported"),
    ("(?<!", "negative lookbehind (?<!...) is not supported: use exclude"),
    ("(?>", "atomic groups (?>...) are not supported"),
    ("(?#", "comments (?#...) are not supported"),
)
_MAX_VERDICTS = 250_000  # remembered tags per filter; more listed tags than this start it anew
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[0-9]")


class TagPatternError(ValueError):
    """A tag pattern that RE2 cannot run; the message says why and never hides the pattern."""


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Which listed tags a watch follows: some include pattern and no exclude pattern is found.

    Patterns are kept as their source text; a compiled Python ``re.Pattern`` passed in is taken
    by its source text. Raises :class:`TagPatternError` for a pattern RE2 cannot run.
    """

    include: tuple[str, ...] = (".*",)
    exclude: tuple[str, ...] = ()
    limit: int = 20
    # Each list as one alternation, so a listing of 100,000 tags is filtered in one pass each.
    _include_any: re2._Regexp[str] | None = field(init=False, repr=False, compare=False)
    _exclude_any: re2._Regexp[str] | None = field(init=False, repr=False, compare=False)
    # `.*` (the default) is found in every tag: no need to ask RE2.
    _includes_all: bool = field(init=False, repr=False, compare=False)
    # Verdicts by tag: a poll sees the same listing again and again, and a call into RE2 costs
    # some microseconds (0.6 s for 100,000 tags), a dictionary look-up a fraction of one.
    _verdicts: dict[str, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        include, exclude = _sources(self.include), _sources(self.exclude)
        object.__setattr__(self, "include", include)
        object.__setattr__(self, "exclude", exclude)
        object.__setattr__(self, "_include_any", _any_of(include))
        object.__setattr__(self, "_exclude_any", _any_of(exclude))
        object.__setattr__(self, "_includes_all", ".*" in include)
        object.__setattr__(self, "_verdicts", {})

    def matches(self, tag: str) -> bool:
        """True if some include pattern and no exclude pattern is found in the tag."""
        verdict = self._verdicts.get(tag)
        if verdict is None:
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            verdict = self._verdicts[tag] = self._search(tag)
        return verdict

    def _search(self, tag: str) -> bool:
        try:
            if not self._includes_all and (
                self._include_any is None or self._include_any.search(tag) is None
            ):
                return False
            return self._exclude_any is None or self._exclude_any.search(tag) is None
        except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800") is no tag name
            return False


def tag_pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot run ``pattern`` as a tag filter, or None when it can."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is longer than {MAX_PATTERN_LENGTH} characters"
    if _literal_open_range(pattern):
        return "{,n} is not supported (RE2 would read it as text): write {0,n}"
    try:
        _compile(pattern, capture=True)
    except TagPatternError as exc:
        return str(exc)
    return None


def _sources(patterns: tuple[str | re.Pattern[str], ...]) -> tuple[str, ...]:
    return tuple(p.pattern if isinstance(p, re.Pattern) else p for p in patterns)


def _any_of(patterns: tuple[str, ...]) -> re2._Regexp[str] | None:
    if not patterns:
        return None
    for pattern in patterns:
        if (problem := tag_pattern_problem(pattern)) is not None:
            raise TagPatternError(f"{pattern!r}: {problem}")
    # Captures are never read: without them RE2 can use its fastest (DFA) matcher.
    return _compile("|".join(f"(?:{p})" for p in patterns), capture=False)


def _compile(pattern: str, *, capture: bool) -> re2._Regexp[str]:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr
    options.never_capture = not capture
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise TagPatternError(_reason(pattern, exc)) from None
    except UnicodeEncodeError:
        raise TagPatternError("is not valid text (a lone surrogate)") from None


def _reason(pattern: str, exc: re2.error) -> str:
    detail = exc.args[0] if exc.args else ""
    message = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    for operator, reason in _UNSUPPORTED_OPERATORS:
        if operator in pattern and operator[:3] in message:
            return f"{reason} (tag patterns run on RE2, which matches in linear time)"
    if _BACKREFERENCE.search(message):
        return "backreferences such as \\1 are not supported (RE2 matches in linear time)"
    if "bad repetition operator" in message and message.endswith("+"):
        possessive = message.rpartition(": ")[2]
        return f"possessive quantifiers such as {possessive} are not supported by RE2"
    if "invalid escape sequence: \\Z" in message:
        return "\\Z is not supported: write \\z or $ (in RE2, $ anchors the end of the tag)"
    if "invalid perl operator: (?" in message:
        flag = message.rpartition(": ")[2]
        return f"{flag}...) is not supported by RE2 (inline flags: i, m, s, U)"
    return f"RE2 cannot compile it: {message}"


def _literal_open_range(pattern: str) -> bool:
    """True if ``{,n}`` stands outside a character class (Python: 0 to n; RE2: the text)."""
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1) or pattern.startswith("^]", index + 1):
                index += 2 if pattern[index + 1] == "]" else 3  # a leading ] is literal
                continue
        elif char == "{" and re.match(r"\{,[0-9]+\}", pattern[index:]):
            return True
        index += 1
    return False
