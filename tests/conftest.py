"""Shared fixtures. Real servers live in tests/support; each test module asks for what it needs."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
