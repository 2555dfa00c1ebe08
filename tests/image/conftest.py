"""The image built once per test session from the checkout, and its size in pytest's summary."""

from __future__ import annotations

import pytest

from tests.support.archlag_image import BuiltImage, build_archlag_image
from tests.support.podman import Podman, PodmanError

_REPORT = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def archlag_image(podman: Podman, request: pytest.FixtureRequest) -> BuiltImage:
    """archlag's Dockerfile built with buildah from this checkout (tests/support/archlag_image)."""
    try:
        built = build_archlag_image(podman, "localhost/archlag:test")
    except PodmanError as error:
        pytest.fail(str(error), pytrace=False)
    request.config.stash[_REPORT] = built.report()
    return built


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(_REPORT, None)
    if report is not None:
        terminalreporter.write_sep("-", "archlag image")
        terminalreporter.write_line(report)
