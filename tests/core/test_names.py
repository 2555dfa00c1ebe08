"""One grammar for names: tags, repositories and digests match in full, or not at all."""

from __future__ import annotations

import pytest

from archlag.core.names import is_digest, is_repository, is_tag
from archlag.core.references import (
    ImageReferenceError,
    parse_pinned_reference,
    parse_reference,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0", True),
        ("latest", True),
        ("_private", True),
        ("v1.2.3-rc.1_build", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("2.0\n", False),  # $ would have matched before the newline
        ("2.0\r", False),
        ("\n2.0", False),
        (".hidden", False),
        ("-dash", False),
        ("a/b", False),
        ("a:b", False),
        ("", False),
        ("tag with space", False),
        ("2.0\x00", False),
        (None, False),
        (20, False),
    ],
)
def test_is_tag(text: object, expected: bool) -> None:
    assert is_tag(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("library/nginx", True),
        ("a", True),
        ("a.b_c__d---e/f", True),
        ("/".join(["abc"] * 63) + "/ab", True),  # 254 characters
        ("a" * 256, False),
        ("demo/app\n", False),
        ("Demo/App", False),
        ("demo//app", False),
        ("demo/app/", False),
        ("demo/../x", False),
        ("a___b", False),
        ("", False),
    ],
)
def test_is_repository(text: object, expected: bool) -> None:
    assert is_repository(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SHA256, True),
        (SHA512, True),
        (SHA256 + "\n", False),
        (SHA256.upper(), False),
        (SHA256[:-1], False),
        ("sha384:" + "0" * 96, False),  # valid OCI, but archlag cannot verify it
        ("md5:" + "0" * 32, False),
        ("", False),
    ],
)
def test_is_digest(text: object, expected: bool) -> None:
    assert is_digest(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "demo\n/app",
        "ghcr.io\n/o/r",
        "ghcr.io/o/r:1.0\x00",
        "r.example/" + "a" * 300,
    ],
)
def test_references_are_matched_in_full(text: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_reference(text)


def test_a_reference_keeps_its_tag_grammar() -> None:
    assert parse_reference("ghcr.io/o/r:v1.2_3").tag == "v1.2_3"
    with pytest.raises(ImageReferenceError, match="not a valid tag"):
        parse_reference("ghcr.io/o/r:.1")


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ("docker.io", "library/nginx", None, None)),
        ("nginx:1.27", ("docker.io", "library/nginx", "1.27", None)),
        (f"nginx@{DIGEST}", ("docker.io", "library/nginx", None, DIGEST)),
        (f"ghcr.io/o/r:2.0@{DIGEST}", ("ghcr.io", "o/r", "2.0", DIGEST)),
        (f"127.0.0.1:5000/demo/app@{DIGEST}", ("127.0.0.1:5000", "demo/app", None, DIGEST)),
    ],
)
def test_a_pinned_reference_keeps_its_tag_and_digest(
    text: str, expected: tuple[str, str, str | None, str | None]
) -> None:
    pinned = parse_pinned_reference(text)

    image = pinned.image
    assert (image.registry, image.repository, image.tag, pinned.digest) == expected
    assert parse_pinned_reference(str(pinned)) == pinned


@pytest.mark.parametrize(
    "text",
    ["nginx@", f"@{DIGEST}", "nginx@sha256:abc", f"nginx@{DIGEST.upper()}", f"a@{DIGEST}@x",
     f"nginx@md5:{'0' * 32}", f"Nginx@{DIGEST}", f"nginx@{DIGEST}\x00"],
)  # fmt: skip
def test_a_pinned_reference_refuses_what_is_not_one(text: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_pinned_reference(text)


def test_a_plain_reference_still_refuses_digests() -> None:
    with pytest.raises(ImageReferenceError, match="not a digest"):
        parse_reference(f"nginx@{DIGEST}")
