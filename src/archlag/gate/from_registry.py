"""Looking at a tag in the registry itself (the default way of ``check`` and ``wait``).

Each look is a ``HEAD`` first (free of Docker Hub pull quota) and a ``GET`` of the manifest, by
digest, only when the digest changed since the previous look. Attestation manifests never count
as platforms (:func:`fetch_content` drops them).

Without ``--platform``, the wanted platforms are learned as the exporter learns them: the union
of the platforms of the three most recent tags *older* than the one checked. A one-shot command
has no first-seen times, so older means a lower version here; a tag without a version in its
name (``latest``, ``edge``) learns from the three highest versions instead.

Errors: registry failures are :class:`~archlag.registry.RegistryError` (tree in
:mod:`archlag.registry.errors`); :class:`~archlag.gate.report.NothingToExpectError` when no
platform can be wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlag.core.publication import EXPECTED_FROM_RECENT_TAGS, select_tags, version_key
from archlag.core.references import ImageReference
from archlag.gate.report import FROM_RECENT_TAGS, NothingToExpectError, Report, Wanted
from archlag.registry import NotFoundError, RegistryClient, TagContent, fetch_content


async def look(
    client: RegistryClient, repository: str, tag: str, previous: TagContent | None = None
) -> TagContent | None:
    """What the tag holds now, or None if it does not exist; ``GET`` only on a new digest."""
    try:
        head = await client.head_manifest(repository, tag)
        if previous is not None and head.digest is not None and head.digest == previous.digest:
            return previous
        return await fetch_content(client, repository, head.digest or tag)
    except NotFoundError:  # no such tag or repository, or deleted between HEAD and GET
        return None


@dataclass(frozen=True, slots=True)
class RegistryLooker:
    """A :class:`~archlag.gate.report.Looker` over a registry client."""

    client: RegistryClient

    async def expectation(self, image: ImageReference) -> Wanted:
        """Learned from the tags before this one.

        Raises:
            NothingToExpectError: no other tag to learn from.
            RegistryError: the registry failed.
        """
        try:
            listed = await self.client.list_tags(image.repository)
        except NotFoundError:
            listed = []
        target = image.tag or ""
        others = _reference_tags(listed, target)
        found: dict[str, TagContent] = {}
        for tag in others:
            content = await look(self.client, image.repository, tag)
            if content is not None:
                found[tag] = content
        if not found and (others or not any(t != target for t in listed)):
            raise NothingToExpectError(
                f"{image.registry}/{image.repository} has no other tags to learn the expected "
                "platforms from: name them with --platform"
            )
        # Nothing older (the oldest version): judged by its own platforms, as the exporter does.
        learned = frozenset().union(*(frozenset(c.platforms) for c in found.values()))
        return Wanted(learned, FROM_RECENT_TAGS, tuple(t for t in others if t in found))

    async def look(
        self, image: ImageReference, expectation: Wanted, previous: Report | None
    ) -> Report:
        before = previous.content if previous is not None else None
        content = await look(self.client, image.repository, image.tag or "", before)
        return Report(image, expectation, content)


def _reference_tags(listed: list[str], target: str) -> list[str]:
    """The tags a check of ``target`` learns from: the highest versions below it, or, for a tag
    with no version in its name, the highest versions of all."""
    others = [t for t in listed if t != target]
    if any(char.isdigit() for char in target):
        others = [t for t in others if version_key(t) < version_key(target)]
    return select_tags(others, {}, EXPECTED_FROM_RECENT_TAGS)
