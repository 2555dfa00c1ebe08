"""Per-arch suffix tags mapped to platforms of their base tag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archlag.core.platform_tags import PlatformTags, template_problem
from archlag.core.platforms import parse_platform


@pytest.mark.parametrize(
    ("template", "tag", "expected"),
    [
        ("{tag}-{arch}", "2.6.1-arm64", ("2.6.1", "linux/arm64")),
        ("{tag}-{arch}", "2.6.1-amd64", ("2.6.1", "linux/amd64")),
        ("{tag}-{arch}", "2.6.1-armv7", ("2.6.1", "linux/arm/v7")),
        ("{tag}-{arch}", "2.6.1-arm32v6", ("2.6.1", "linux/arm/v6")),
        ("{tag}-{arch}", "v1-2-x86_64", ("v1-2", "linux/amd64")),
        ("{tag}-{arch}", "2.6.1-rc1", None),
        ("{tag}-{arch}", "2.6.1", None),
        ("{arch}-{tag}", "aarch64-1.0", ("1.0", "linux/arm64")),
        ("{tag}-{os}-{arch}", "1.0-windows-amd64", ("1.0", "windows/amd64")),
        ("{tag}-{arch}{variant}", "1.0-armv6", ("1.0", "linux/arm/v6")),
    ],
)
def test_parse(template: str, tag: str, expected: tuple[str, str] | None) -> None:
    parsed = PlatformTags(template).parse(tag)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == (expected[0], parse_platform(expected[1]))


def test_group_derives_base_tags_from_suffix_tags() -> None:
    grouping = PlatformTags("{tag}-{arch}").group(
        ["1.0", "1.0-amd64", "1.0-arm64", "2.0-amd64", "2.0-rc1", "latest"]
    )
    assert grouping.bases == ("1.0", "2.0-rc1", "latest", "2.0")
    assert grouping.listed == {"1.0", "2.0-rc1", "latest"}
    assert grouping.parts["2.0"] == {parse_platform("linux/amd64"): "2.0-amd64"}
    assert set(grouping.parts["1.0"].values()) == {"1.0-amd64", "1.0-arm64"}


@pytest.mark.parametrize(
    "tag",
    [
        "2.6.1-arm64\n",  # $ would match before the newline; fullmatch does not
        "2.6.1-arm64 ",
        "x" * 200 + "-arm64",  # longer than an OCI tag can be
    ],
)
def test_only_whole_plausible_tags_match(tag: str) -> None:
    assert PlatformTags("{tag}-{arch}").parse(tag) is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{tag}", "must contain {tag} and {arch} once each"),
        ("{tag}-{arch}-{arch}", "must contain {tag} and {arch} once each"),
        ("{tag}-{os}-{os}-{arch}", "{os} may appear only once"),
        ("{tag}-{arch}{variant}{variant}", "{variant} may appear only once"),
        ("{tag}-{cpu}", "unknown placeholder {cpu}"),
    ],
)
def test_template_problems(template: str, problem: str) -> None:
    assert problem in (template_problem(template) or "")


@given(
    st.lists(st.sampled_from(["{tag}", "{arch}", "{os}", "{variant}", "-", "_", "."]), max_size=7)
)
def test_every_template_the_loader_accepts_compiles(parts: list[str]) -> None:
    template = "".join(parts)
    if template_problem(template) is None:
        assert PlatformTags(template).parse("x") is None
