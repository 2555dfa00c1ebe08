"""What a sighting is and which workloads are watched: references, names, labels."""

from __future__ import annotations

import pytest

from archlag.core.platforms import parse_platform
from archlag.discovery.selection import Choice, choose, marks_of
from archlag.discovery.sighting import SightingError, sighting

DIGEST = "sha256:" + "b" * 64
ARM = parse_platform("linux/arm64")


def seen(reference: str, **fields: object) -> tuple[object, ...]:
    found = sighting(
        reference, source="docker", workload="w", container="c", instance="i", platform=ARM,
        **fields,
    )  # fmt: skip
    return (found.registry, found.repository, found.tag, found.digest)


@pytest.mark.parametrize(
    ("reference", "runtime", "expected"),
    [
        ("nginx", None, ("docker.io", "library/nginx", "latest", None)),
        ("nginx:1.27-alpine", DIGEST, ("docker.io", "library/nginx", "1.27-alpine", DIGEST)),
        (f"ghcr.io/o/r@{DIGEST}", None, ("ghcr.io", "o/r", None, DIGEST)),
        (f"ghcr.io/o/r:2@{DIGEST}", "sha256:" + "c" * 64, ("ghcr.io", "o/r", "2", DIGEST)),
        ("127.0.0.1:5000/d/app:1.0", "not-a-digest", ("127.0.0.1:5000", "d/app", "1.0", None)),
    ],
)  # fmt: skip
def test_a_reference_runs_latest_unless_it_names_a_tag_or_digest(
    reference: str, runtime: str | None, expected: tuple[object, ...]
) -> None:
    assert seen(reference, digest=runtime) == expected


@pytest.mark.parametrize(
    ("reference", "fields"),
    [
        ("Not/A/Reference", {}),
        ("sha256:" + "a" * 64, {}),
        ("x" * 600, {}),
        ("nginx", {"workload": ""}),
        ("nginx", {"container": "a\nb"}),
        ("nginx", {"instance": "i" * 513}),
    ],
)
def test_what_is_not_a_sighting_says_so(reference: str, fields: dict[str, str]) -> None:
    names = {"workload": "w", "container": "c", "instance": "i"} | fields
    with pytest.raises(SightingError):
        sighting(reference, source="files", platform=None, **names)


@pytest.mark.parametrize(
    ("marks", "by_default", "expected"),
    [
        ({}, True, Choice(True)),
        ({}, False, Choice(False)),
        ({"archlag.io/watch": "false"}, True, Choice(False)),
        ({"archlag.io/watch": "True"}, False, Choice(True)),
        ({"diun.enable": "true"}, False, Choice(True)),
        ({"archlag.io/watch": "false", "diun.enable": "true"}, True, Choice(False)),
        ({"diun.enable": "true", "diun.platform": "linux/aarch64"}, False, Choice(True, ARM)),
        ({"archlag.io/watch": "yes"}, True,
         Choice(True, None, "archlag.io/watch must be true or false")),
        ({"diun.platform": "arm64"}, True,
         Choice(True, None, "diun.platform is not a platform such as linux/arm64")),
    ],
)  # fmt: skip
def test_labels_and_annotations_choose(
    marks: dict[str, str], by_default: bool, expected: Choice
) -> None:
    assert choose(marks, watch_by_default=by_default) == expected


def test_marks_merge_later_ones_winning_and_read_yaml_booleans() -> None:
    merged = marks_of(
        {"archlag.io/watch": "true", "a": 1}, None, {"archlag.io/watch": False, 3: "x", "b": []}
    )

    assert merged == {"archlag.io/watch": "false", "a": "1"}
