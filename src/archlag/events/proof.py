"""How a sender proves it holds the receiver's secret, per receiver type.

- ``distribution``: ``Authorization: Bearer <secret>`` (it can only send static headers);
- ``harbor``: ``Authorization: <secret>`` (the webhook policy's "Auth Header", sent as is);
- ``dockerhub``, ``quay``: the secret as the last path segment, ``/events/<name>/<secret>``;
- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``;
- ``generic``: ``X-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.

Every comparison is constant-time (:func:`hmac.compare_digest`) and nothing here logs or returns
the secret or what the sender sent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from archlag.config import Receiver

PATH_SECRET_TYPES = frozenset({"dockerhub", "quay"})
_SIGNATURE_HEADERS = {"github": "x-hub-signature-256", "generic": "x-signature"}


def proven(
    receiver: Receiver, headers: Mapping[str, str], body: bytes, path_secret: str | None
) -> bool:
    """True when the request carries this receiver's proof (see the module docstring)."""
    secret = receiver.secret.reveal().encode()
    if receiver.type in PATH_SECRET_TYPES:
        return path_secret is not None and _same(path_secret.encode(), secret)
    if path_secret is not None:
        return False  # a secret in the path of a header-authenticated receiver: refuse it
    if receiver.type == "distribution":
        return _same(headers.get("authorization", "").encode(), b"Bearer " + secret)
    if receiver.type == "harbor":
        return _same(headers.get("authorization", "").encode(), secret)
    signature = headers.get(_SIGNATURE_HEADERS[receiver.type], "")
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return _same(signature.strip().lower().encode(), expected.encode())


def _same(given: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(given, expected)
