"""Which segments of a vector file this process has already hashed and found as committed.

A committed segment is immutable: rows are only ever appended after it, and compact writes a
file of a new generation instead of changing it. So once a segment's bytes matched its recorded
sha256, a reader that loads a later commit — in place (`Commits.load`) or by reopening the store
(`Store.open`'s ``replacing``) — needs to hash only the segments committed since. The record is
tied to the file mapped (device and inode, not just its name): a compacted, restored or
hand-copied file is another file and is verified whole. `mixsearch verify` ignores this record
and hashes every segment.
"""

from __future__ import annotations

from collections.abc import Iterable

from mixsearch.store.vector_file import Segment, VectorMap


class VerifiedSegments:
    """Segments (first row, rows, sha256) whose bytes matched, for one vector file."""

    def __init__(self) -> None:
        self._file: tuple[int, int] | None = None
        self._segments: set[Segment] = set()

    def unverified(self, vectors: VectorMap, segments: Iterable[Segment]) -> list[Segment]:
        """The ``segments`` of ``vectors`` not verified yet (all of them for another file)."""
        if vectors.identity != self._file:
            return list(segments)
        return [segment for segment in segments if segment not in self._segments]

    def add(self, vectors: VectorMap, segments: Iterable[Segment]) -> None:
        """Record ``segments`` of ``vectors`` as hashed and sound (another file: start anew)."""
        if vectors.identity != self._file:
            self._file, self._segments = vectors.identity, set()
        self._segments.update(segments)

    def copy(self) -> VerifiedSegments:
        twin = VerifiedSegments()
        twin._file, twin._segments = self._file, set(self._segments)
        return twin
