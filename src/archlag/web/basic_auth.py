"""Basic authentication against ``basic_auth_users``: bcrypt, once per credentials.

A bcrypt check costs tens of milliseconds of CPU by design (cost 10: about 70 ms here), far too
much for every scrape. :class:`BasicAuthVerifier` checks a user name and password once, in a
worker thread, one check at a time (a 2-core machine keeps a core for the event loop), and
remembers the verdict: a later request with the same credentials costs an HMAC. What it
remembers is an HMAC-SHA256 of user, hash and password under a key made at start, never a
password; the hash is part of it, so a changed hash is checked again. Verdicts that allowed and
verdicts that refused are kept apart (:data:`MAX_REMEMBERED` each, oldest forgotten first), so a
stream of wrong passwords cannot push the right ones out.

A user name that is not configured is checked against a configured hash all the same, so the
time of an answer does not tell which names exist. A password longer than bcrypt's 72 bytes is
refused without a check. When more than :data:`MAX_WAITING` checks are already waiting, a
request with unknown credentials is answered at once with :data:`BUSY` (the caller says 503):
guessing passwords fast costs the guesser, not the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final, Literal

import anyio
import bcrypt

MAX_HEADER_CHARACTERS = 4096
MAX_PASSWORD_BYTES = 72  # what bcrypt reads of a password; pyca's bcrypt refuses more
MAX_REMEMBERED = 1024
MAX_WAITING = 16
ALLOWED: Final = "allowed"
REFUSED: Final = "refused"
BUSY: Final = "busy"  # too many checks waiting
Verdict = Literal["allowed", "refused", "busy"]


def parse_basic(header: str | None) -> tuple[str, bytes] | None:
    """User name and password from an ``Authorization: Basic ...`` value, or None."""
    if not header or len(header) > MAX_HEADER_CHARACTERS:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
        user, colon, password = raw.partition(b":")
        name = user.decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return (name, password) if colon else None


class BasicAuthVerifier:
    """Checks credentials against bcrypt hashes, remembering verdicts (module docstring)."""

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self._key = os.urandom(32)
        self._allowed: OrderedDict[bytes, None] = OrderedDict()
        self._refused: OrderedDict[bytes, None] = OrderedDict()
        self._lock = anyio.Lock()
        self._waiting = 0
        self._max_waiting = max_waiting
        self.checks = 0  # bcrypt checks run, for tests and benchmarks

    async def verify(
        self, users: Mapping[str, bytes], header: str | None
    ) -> tuple[Verdict, str | None]:
        """The verdict on ``header`` and, when allowed, the user name."""
        credentials = parse_basic(header)
        if credentials is None or not users:
            return REFUSED, None
        name, password = credentials
        hashed = users.get(name)
        known = hashed is not None
        if hashed is None:  # check against some hash anyway: the time tells nothing
            hashed = next(iter(users.values()))
        key = self._digest(name, hashed, password)
        if key in self._allowed:
            self._allowed.move_to_end(key)
            return (ALLOWED, name) if known else (REFUSED, None)
        if key in self._refused:
            return REFUSED, None
        if self._waiting >= self._max_waiting:
            return BUSY, None
        correct = await self._check(password, hashed)
        remembered = self._allowed if correct else self._refused
        remembered[key] = None
        while len(remembered) > MAX_REMEMBERED:
            remembered.popitem(last=False)
        return (ALLOWED, name) if correct and known else (REFUSED, None)

    async def _check(self, password: bytes, hashed: bytes) -> bool:
        if len(password) > MAX_PASSWORD_BYTES:
            return False
        self._waiting += 1
        try:
            async with self._lock:
                self.checks += 1
                return await anyio.to_thread.run_sync(_checkpw, password, hashed)
        finally:
            self._waiting -= 1

    def _digest(self, name: str, hashed: bytes, password: bytes) -> bytes:
        message = b"\0".join((name.encode(), hashed, password))
        return hmac.new(self._key, message, hashlib.sha256).digest()


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # a hash bcrypt cannot read (the loader checked its form)
        return False
