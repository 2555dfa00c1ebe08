"""Per-arch suffix tags mapped to platforms of their base tag."""

from __future__ import annotations

import pytest

from archlag.platform_tags import PlatformTags
from archlag.platforms import parse_platform


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
