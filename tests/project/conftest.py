"""The Dockerfile's stages, for the checks of the image, the Compose demo and the Kubernetes
manifests, which all compare what they run with what the image declares.
"""

from __future__ import annotations

import pytest

from tests.support.dockerfile import Stage, parse_dockerfile
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]
