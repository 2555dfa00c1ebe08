"""Property tests: platform strings and image references raise only their documented errors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from archlag.core.platforms import PlatformError, parse_platform
from archlag.core.references import (
    ImageReferenceError,
    parse_pinned_reference,
    parse_reference,
)

# Text made mostly of the characters these grammars are built from, so that examples get past
# the first check; arbitrary text covers the rest.
PLATFORM_TEXT = st.text(alphabet="linuxwdsarm64v78_.-/ \n\tLÍ\x00", max_size=30) | st.text()
REFERENCE_TEXT = (
    st.text(alphabet="abcz019.-_:/@[]Aé \n", max_size=60)
    | st.lists(
        st.sampled_from(["ghcr.io", "localhost", "127.0.0.1:5000", "[::1]:5000", "library",
                         "a", "b__c", "d--e", ":tag", ":", "/", "@sha256:00", "..", "_x", "\n"]),
        max_size=6,
    ).map("".join)
    | st.text()
)  # fmt: skip


@given(PLATFORM_TEXT)
def test_parse_platform_raises_only_platform_errors(text: str) -> None:
    try:
        platform = parse_platform(text)
    except PlatformError:
        return
    assert parse_platform(str(platform)) == platform, "normalising twice changes nothing"


@given(REFERENCE_TEXT, st.booleans())
def test_parse_reference_raises_only_image_reference_errors(text: str, allow_tag: bool) -> None:
    try:
        reference = parse_reference(text, allow_tag=allow_tag)
    except ImageReferenceError:
        return
    assert reference.repository
    assert allow_tag or reference.tag is None


@given(REFERENCE_TEXT)
def test_parse_pinned_reference_raises_only_image_reference_errors(text: str) -> None:
    try:
        pinned = parse_pinned_reference(text)
    except ImageReferenceError:
        return
    assert parse_pinned_reference(str(pinned)) == pinned
