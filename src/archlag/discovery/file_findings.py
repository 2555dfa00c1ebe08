"""What a file says runs: the value each file parser (Compose, Dockerfile, manifest) returns.

The parsers are pure: text or YAML values in, :class:`FileFindings` out, never an exception for
what a file holds. An entry that cannot be read (a service, a stage, a container) is a problem
of that entry; the rest of the file is still read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlag.core.platforms import Platform


@dataclass(frozen=True, slots=True)
class FileImage:
    reference: str  # as written, variables expanded
    name: str  # what runs it: the service, the stage, Kind/name of a manifest
    container: str  # the container in it (a service's or stage's own name)
    platform: Platform | None = None  # said by the file; None: discovery.files.platforms
    marks: dict[str, str] = field(default_factory=dict)  # labels and annotations


@dataclass(slots=True)
class FileFindings:
    images: list[FileImage] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry, reason)
    notes: list[str] = field(default_factory=list)  # why the file itself was skipped

    def problem(self, entry: str, reason: str) -> None:
        self.problems.append((entry, reason))
