"""Property tests: whatever the YAML, the loader raises only ConfigError."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from archlag.config import Config, ConfigError, parse_config
from archlag.config.discovery_section import (
    DISCOVERY_KEYS,
    DOCKER_KEYS,
    FILES_KEYS,
    KUBERNETES_KEYS,
)
from archlag.config.loader import TOP_LEVEL_KEYS, WATCH_KEYS
from archlag.config.registries import REGISTRY_KEYS

KEYS = sorted(
    TOP_LEVEL_KEYS | WATCH_KEYS | REGISTRY_KEYS | {"image", "include", "exclude"}
    | DISCOVERY_KEYS | KUBERNETES_KEYS | DOCKER_KEYS | FILES_KEYS
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1m", "0", "30s", "linux/amd64", "a/b", "^\\d+$", "(", "(?=x)",
                       "{tag}-{arch}", "docker.io", "ENV", "/nonexistent", "100y", "1y1ms",
                       "ghcr.io/o/r"])
)  # fmt: skip
KEY = st.sampled_from(KEYS) | st.text(max_size=8)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=5),
    max_leaves=30,
)
ENVIRON = st.dictionaries(st.sampled_from(["ENV", "HUB_TOKEN"]), st.text(max_size=10))

# Fragments of YAML syntax, including the parts that construct values: tags, anchors, aliases.
FRAGMENTS = st.sampled_from([
    "watches:", "- image: a/b", "  interval: ", "defaults:", " tags: {include: [", "]}", "&a ",
    "*a", "!!int ", "!!binary ", "!!timestamp ", "!!python/object:os.system ", "[", "]", "{",
    "}", ": ", "- ", "\n", "  ", "'", '"', "\\x", "#", "---", "...", "? ", "|", ">", "1e999",
    "0x", "9" * 50, "2001-13-45", "registries:", " ghcr.io: {token_env: ENV}", "<<: *a", "%YAML",
    "\t", "\x00", "\ufeff", "\ud800",
])  # fmt: skip


def loads_or_refuses(text: str, environ: dict[str, str]) -> None:
    """A Config, or a ConfigError that says what is wrong, one line per issue; nothing else."""
    error: ConfigError | None = None
    try:
        config = parse_config(text, "prop.yml", environ=environ)
    except ConfigError as exc:
        error = exc
    if error is None:
        assert isinstance(config, Config)
    else:
        assert error.issues
        assert all(line.startswith("  ") for line in str(error).splitlines()[1:])


@given(st.text(), ENVIRON)
def test_any_text(text: str, environ: dict[str, str]) -> None:
    loads_or_refuses(text, environ)


@given(st.lists(FRAGMENTS, max_size=30).map("".join), ENVIRON)
def test_any_yaml_ish_text(text: str, environ: dict[str, str]) -> None:
    loads_or_refuses(text, environ)


@given(STRUCTURES, ENVIRON)
def test_any_structure(document: Any, environ: dict[str, str]) -> None:
    loads_or_refuses(yaml.safe_dump(document), environ)


@given(
    st.dictionaries(st.sampled_from(sorted(WATCH_KEYS)), STRUCTURES, max_size=4),
    st.dictionaries(st.sampled_from(sorted(REGISTRY_KEYS)), STRUCTURES, max_size=4),
    ENVIRON,
)
def test_any_values_under_known_keys(
    watch: dict[str, Any], registry: dict[str, Any], environ: dict[str, str]
) -> None:
    document = {
        "defaults": watch,
        "registries": {"ghcr.io": registry},
        "watches": [{"image": "ghcr.io/a/b", **watch}],
    }
    loads_or_refuses(yaml.safe_dump(document), environ)


@given(
    st.dictionaries(st.sampled_from(sorted(DISCOVERY_KEYS)), STRUCTURES, max_size=4),
    st.dictionaries(
        st.sampled_from(sorted(KUBERNETES_KEYS | DOCKER_KEYS | FILES_KEYS)), STRUCTURES, max_size=3
    ),
)
def test_any_values_under_discovery_keys(section: dict[str, Any], source: dict[str, Any]) -> None:
    document = {"discovery": {**section, "docker": source, "kubernetes": source}}
    loads_or_refuses(yaml.safe_dump(document), {})
