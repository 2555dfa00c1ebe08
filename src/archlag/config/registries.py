"""The ``registries`` section: per-host access settings and one way to authenticate.

Issues go to the :class:`~archlag.config.nodes.NodeReader` passed in; nothing here raises.
Secrets are read through :func:`~archlag.config.secrets_reader.read_secret`, and each keeps its
:class:`~archlag.config.settings.SecretRef` so that the configuration can be written back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archlag.config import bounds
from archlag.config.nodes import Node, NodeReader, join
from archlag.config.secrets_reader import SecretProblem, read_secret
from archlag.config.settings import RegistrySettings, SecretRef
from archlag.core.references import DOCKER_HUB

REGISTRY_KEYS = frozenset({
    "insecure", "username", "password", "password_env", "password_file", "token_env",
    "token_file", "docker_config", "concurrency", "timeout", "requests_per_minute",
    "max_backoff", "hub_api", "quay_api",
})  # fmt: skip
_HUB_ALIASES = {"index.docker.io": DOCKER_HUB, "registry-1.docker.io": DOCKER_HUB}
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")


def read_registries(
    reader: NodeReader, node: Node, environ: Mapping[str, str]
) -> dict[str, RegistrySettings]:
    """Settings by canonical host (``index.docker.io`` is ``docker.io``)."""
    return _Registries(reader, environ).read(node)


class _Registries:
    def __init__(self, reader: NodeReader, environ: Mapping[str, str]) -> None:
        self.reader = reader
        self.environ = environ

    def read(self, node: Node) -> dict[str, RegistrySettings]:
        result: dict[str, RegistrySettings] = {}
        for host, value in (self.reader.mapping(node, "registries", set()) or {}).items():
            path = join("registries", host)
            canonical = _HUB_ALIASES.get(host, host)
            if not _HOST.fullmatch(host):
                self.reader.error(
                    path, value, "is not a registry host such as ghcr.io or 127.0.0.1:5000"
                )
            elif canonical in result:
                self.reader.error(path, value, f"duplicates the settings of {canonical}")
            else:
                result[canonical] = self.registry(value, path, canonical)
        return result

    def registry(self, node: Node, path: str, host: str) -> RegistrySettings:
        reader = self.reader
        fields = reader.mapping(node, path, set(REGISTRY_KEYS)) or {}
        values: dict[str, Any] = {}
        for flag in ("insecure", "hub_api", "quay_api"):
            if flag in fields:
                values[flag] = reader.scalar(fields[flag], join(path, flag), bool, "true or false")
        for api, only in (("hub_api", "docker.io"), ("quay_api", "quay.io")):
            if values.get(api) and host != only:
                reader.error(join(path, api), fields[api], f"only applies to {only}")
        values["concurrency"] = reader.bounded_int(fields, path, "concurrency", bounds.CONCURRENCY)
        values["requests_per_minute"] = reader.bounded_int(
            fields, path, "requests_per_minute", bounds.REQUESTS_PER_MINUTE
        )
        values["timeout"] = reader.bounded_duration(
            fields, path, "timeout", bounds.MAX_TIMEOUT_SECONDS, positive=True
        )
        values["max_backoff"] = reader.bounded_duration(
            fields, path, "max_backoff", bounds.MAX_SETTING_SECONDS, positive=True
        )
        values.update(self.credentials(fields, path, node))
        return RegistrySettings(host, **{k: v for k, v in values.items() if v is not None})

    def credentials(self, fields: dict[str, Node], path: str, node: Node) -> dict[str, Any]:
        """One way to authenticate: username + password, a token, or a Docker config file."""
        reader = self.reader
        if "password" in fields:
            reader.error(
                join(path, "password"),
                fields["password"],
                "inline passwords are not accepted: use password_env or password_file",
            )
        kinds = [
            kind
            for kind, keys in (
                ("password", ("username", "password_env", "password_file")),
                ("token", ("token_env", "token_file")),
                ("docker_config", ("docker_config",)),
            )
            if any(k in fields for k in keys)
        ]
        if len(kinds) > 1:
            reader.error(path, node, f"choose one way to authenticate, not {' and '.join(kinds)}")
            return {}
        if kinds == ["token"]:
            return self.secret(fields, path, "token")
        if kinds == ["docker_config"]:
            return self.docker_config(fields["docker_config"], join(path, "docker_config"))
        if "username" not in fields:
            if kinds:
                reader.error(path, node, "password_env/password_file need a username")
            return {}
        username = reader.scalar(fields["username"], join(path, "username"), str, "a string")
        if not any(k in fields for k in ("password_env", "password_file")):
            reader.error(path, fields["username"], "username needs password_env or password_file")
            return {}
        password = self.secret(fields, path, "password")
        return {"username": username, **password} if password and username else {}

    def docker_config(self, node: Node, path: str) -> dict[str, Any]:
        name = self.reader.scalar(node, path, str, "a path")
        if name is not None and not Path(name).is_file():
            self.reader.error(path, node, "no such file")
            return {}
        return {"docker_config": Path(name)} if name else {}

    def secret(self, fields: dict[str, Node], path: str, name: str) -> dict[str, Any]:
        """``{name: Secret, name_from: SecretRef}`` from ``name_env`` or ``name_file``; or {}."""
        keys = [k for k in (f"{name}_env", f"{name}_file") if k in fields]
        if len(keys) != 1:
            if keys:
                self.reader.error(
                    path, fields[keys[1]], f"set only one of {name}_env and {name}_file"
                )
            return {}
        key = keys[0]
        source = self.reader.scalar(fields[key], join(path, key), str, "a string")
        if source is None:
            return {}
        ref = SecretRef(key, source)
        try:
            return {name: read_secret(ref, self.environ), f"{name}_from": ref}
        except SecretProblem as exc:
            self.reader.error(join(path, key), fields[key], str(exc))
            return {}
