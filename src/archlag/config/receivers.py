"""The ``receivers`` section: push-event receivers, each with a name, a type and a secret.

Issues go to the :class:`~archlag.config.nodes.NodeReader` passed in; nothing here raises. A
receiver without a secret is an error: anything a sender posts changes what archlag checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from archlag.config import bounds
from archlag.config.nodes import Node, NodeReader, join
from archlag.config.secrets_reader import SecretProblem, read_secret
from archlag.config.settings import RECEIVER_TYPES, Receiver, SecretRef
from archlag.core.references import DOCKER_HUB
from archlag.secrets import Secret

RECEIVER_KEYS = frozenset(
    {"name", "type", "secret_env", "secret_file", "registry", "events_per_second"}
)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
_HUB_ALIASES = {"index.docker.io": DOCKER_HUB, "registry-1.docker.io": DOCKER_HUB}
_NAME_RULE = "must be 1-63 lower-case letters, digits, - or _ (it is a URL path segment)"
_MISSING_PROOF = (
    "needs secret_env or secret_file: without a secret anyone could make archlag check tags"
)


def read_receivers(
    reader: NodeReader, node: Node, environ: Mapping[str, str]
) -> tuple[Receiver, ...]:
    receivers: list[Receiver] = []
    names: set[str] = set()
    for path, item in reader.items(node, "receivers", bounds.MAX_RECEIVERS):
        receiver = _Receiver(reader, item, path, environ).read()
        if receiver is None:
            continue
        if receiver.name in names:
            reader.error(join(path, "name"), item, f"another receiver is named {receiver.name}")
            continue
        names.add(receiver.name)
        receivers.append(receiver)
    return tuple(receivers)


class _Receiver:
    def __init__(
        self, reader: NodeReader, node: Node, path: str, environ: Mapping[str, str]
    ) -> None:
        self.reader, self.node, self.path, self.environ = reader, node, path, environ
        self.fields = reader.mapping(node, path, set(RECEIVER_KEYS)) or {}

    def read(self) -> Receiver | None:
        name = self.choice("name", lambda text: _NAME.fullmatch(text) is not None, _NAME_RULE)
        kind = self.choice(
            "type",
            lambda text: text in RECEIVER_TYPES,
            f"must be one of {', '.join(RECEIVER_TYPES)}",
        )
        values: dict[str, Any] = {}
        host = self.choice(
            "registry",
            lambda text: _HOST.fullmatch(text) is not None,
            "is not a registry host such as ghcr.io or 127.0.0.1:5000",
            required=False,
        )
        if host is not None:
            values["registry"] = _HUB_ALIASES.get(host, host)
        rate = self.reader.bounded_int(
            self.fields, self.path, "events_per_second", bounds.EVENTS_PER_SECOND
        )
        if rate is not None:
            values["events_per_second"] = rate
        secret = self.secret()
        if name is None or kind is None or secret is None:
            return None
        return Receiver(name, kind, secret[0], secret[1], **values)

    def choice(self, key: str, valid: Any, rule: str, *, required: bool = True) -> str | None:
        if key not in self.fields:
            if required:
                self.reader.error(self.path, self.node, f"needs a {key}")
            return None
        text = self.reader.scalar(self.fields[key], join(self.path, key), str, "a string")
        if text is not None and not valid(text):
            self.reader.error(join(self.path, key), self.fields[key], rule)
            return None
        return text

    def secret(self) -> tuple[Secret, SecretRef] | None:
        keys = [k for k in ("secret_env", "secret_file") if k in self.fields]
        if not keys:
            self.reader.error(self.path, self.node, _MISSING_PROOF)
            return None
        if len(keys) > 1:
            self.reader.error(
                self.path, self.fields[keys[1]], "set only one of secret_env and secret_file"
            )
            return None
        key = keys[0]
        source = self.reader.scalar(self.fields[key], join(self.path, key), str, "a string")
        if source is None:
            return None
        ref = SecretRef(key, source)
        try:
            return read_secret(ref, self.environ), ref
        except SecretProblem as exc:
            self.reader.error(join(self.path, key), self.fields[key], str(exc))
            return None
