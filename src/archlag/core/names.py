"""The grammar of names a registry deals in: tags, repository names, digests, media types.

Each predicate matches the *whole* text (``fullmatch``): ``$`` would also match before a
trailing newline, and a tag such as ``"2.0\\n"`` would then pass, only to fail later when it is
put in a URL. Anything that is not a ``str`` is not a name either, so these never raise.

- :func:`is_tag`: the OCI tag grammar ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``;
- :func:`is_repository`: the OCI repository name grammar, at most 255 characters;
- :func:`is_digest`: a ``sha256:`` or ``sha512:`` digest, the algorithms archlag can verify;
- :func:`is_media_type`: ``type/subtype`` as RFC 6838 restricts them, without parameters.
"""

from __future__ import annotations

import re

MAX_REPOSITORY_LENGTH = 255  # what many clients allow for a whole name (OCI implementers' note)

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_RESTRICTED_NAME}/{_RESTRICTED_NAME}")


def is_tag(text: object) -> bool:
    """True if ``text`` is a tag: ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``, nothing before or after."""
    return isinstance(text, str) and _TAG.fullmatch(text) is not None


def is_repository(text: object) -> bool:
    """True if ``text`` is a repository name (``library/nginx``) of at most 255 characters."""
    return (
        isinstance(text, str)
        and len(text) <= MAX_REPOSITORY_LENGTH
        and _REPOSITORY.fullmatch(text) is not None
    )


def is_digest(text: object) -> bool:
    """True for a ``sha256:`` or ``sha512:`` digest (lower-case hex) that can be verified here."""
    return isinstance(text, str) and _DIGEST.fullmatch(text) is not None


def is_media_type(text: object) -> bool:
    """True for a media type without parameters (``application/vnd.oci.image.index.v1+json``)."""
    return isinstance(text, str) and _MEDIA_TYPE.fullmatch(text) is not None
