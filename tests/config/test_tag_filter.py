"""Tag filters run on RE2: linear time for any pattern and tag, today's search semantics kept."""

from __future__ import annotations

import re
import threading

import pytest

from archlag.config import ConfigError, TagFilter, parse_config
from archlag.config.tag_filter import TagPatternError, tag_pattern_problem

# The pattern that froze archlag's event loop with Python's backtracking engine.
REDOS = r"^(\d+\.?)+$"


def matches_in_a_thread(tag_filter: TagFilter, tag: str) -> bool | None:
    """The verdict, or None if matching did not finish within a generous 30 s."""
    verdicts: list[bool] = []
    worker = threading.Thread(target=lambda: verdicts.append(tag_filter.matches(tag)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    return verdicts[0] if verdicts else None


@pytest.mark.parametrize("length", [40, 10_000])
def test_a_catastrophic_pattern_returns_promptly(length: int) -> None:
    tag_filter = TagFilter(include=(REDOS,))
    hostile = "1" * (length - 1) + "!"  # almost a version: the worst case for backtracking

    assert matches_in_a_thread(tag_filter, hostile) is False
    assert matches_in_a_thread(tag_filter, "1." * (length // 2)) is True


def test_patterns_are_searched_include_any_exclude_any() -> None:
    tag_filter = TagFilter(include=(r"^\d+\.\d+$", "alpine"), exclude=("-rc", r"^0\."))

    assert tag_filter.matches("2.6")
    assert tag_filter.matches("3.19-alpine"), "searched, not matched from the start"
    assert not tag_filter.matches("latest")
    assert not tag_filter.matches("3.19-alpine-rc1"), "any exclude pattern drops the tag"
    assert not tag_filter.matches("0.9")


def test_dollar_anchors_the_end_of_the_tag() -> None:
    # Python's $ also matches before a final newline, which let a listed "2.0\n" through.
    tag_filter = TagFilter(include=(r"^\d+\.\d+$",))

    assert tag_filter.matches("2.0")
    assert not tag_filter.matches("2.0\n")


def test_inline_flags_stay_with_their_pattern() -> None:
    tag_filter = TagFilter(include=("(?i)^v[0-9]", "^stable$"))

    assert tag_filter.matches("V1")
    assert tag_filter.matches("stable")
    assert not tag_filter.matches("STABLE"), "(?i) of the first pattern does not leak"


def test_the_default_follows_every_tag_and_odd_text_is_no_tag() -> None:
    assert TagFilter().matches("anything-at-all")
    assert not TagFilter(include=("a",)).matches("a\ud800"), "a lone surrogate is no tag name"
    assert not TagFilter(include=()).matches("a"), "no include pattern, no tag"


def test_compiled_python_patterns_are_taken_by_their_source() -> None:
    tag_filter = TagFilter(include=(re.compile(r"^\d+$"),))  # type: ignore[arg-type]

    assert tag_filter.include == (r"^\d+$",)
    assert tag_filter == TagFilter(include=(r"^\d+$",))
    assert tag_filter.matches("12")


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"(\d)\1", "backreferences such as \\1 are not supported"),
        (r"(?P<v>\d)(?P=v)", "backreferences such as (?P=name) are not supported"),
        (r"^(?=\d)", "lookahead (?=...) is not supported"),
        (r"^(?!rc)", "negative lookahead (?!...) is not supported: list the tags to drop"),
        (r"(?<=v)\d", "lookbehind (?<=...) is not supported"),
        (r"(?<!-)rc", "negative lookbehind (?<!...) is not supported"),
        (r"\d++", "possessive quantifiers such as ++ are not supported"),
        (r"(?>\d+)", "atomic groups (?>...) are not supported"),
        (r"^\d+\Z", "\\Z is not supported: write \\z or $"),
        (r"^\d{,3}$", "{,n} is not supported (RE2 would read it as text): write {0,n}"),
        (r"(?x) \d", "(?x...) is not supported by RE2"),
        (r"(", "RE2 cannot compile it: missing )"),
        ("x" * 1001, "is longer than 1000 characters"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern: str, fragment: str) -> None:
    assert fragment in (tag_pattern_problem(pattern) or "")
    with pytest.raises(TagPatternError, match=re.escape(fragment)):
        TagFilter(include=(pattern,))


@pytest.mark.parametrize("pattern", [r"^\d{0,3}$", r"[{,3}]", r"\{,3}", r"^\d{4}\.\d+\.\d+$"])
def test_patterns_that_look_alike_are_accepted(pattern: str) -> None:
    assert tag_pattern_problem(pattern) is None


def test_config_load_names_the_key_path_and_what_is_unsupported() -> None:
    text = "watches:\n  - image: a/b\n    tags: {include: ['^1', '(\\d)\\1'], exclude: ['(?=x)']}\n"

    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})

    lines = str(caught.value).splitlines()[1:]
    assert lines == [
        "  line 3: watches[0].tags.include[1]: '(\\\\d)\\\\1' cannot be used as a tag pattern: "
        "backreferences such as \\1 are not supported (RE2 matches in linear time)",
        "  line 3: watches[0].tags.exclude[0]: '(?=x)' cannot be used as a tag pattern: "
        "lookahead (?=...) is not supported (tag patterns run on RE2, which matches in linear "
        "time)",
    ]


def test_too_many_patterns_are_refused() -> None:
    patterns = ", ".join(f"'^{n}$'" for n in range(101))
    with pytest.raises(ConfigError, match=r"tags.include: must list at most 100 items, not 101"):
        parse_config(f"watches: [{{image: a/b, tags: {{include: [{patterns}]}}}}]", environ={})
