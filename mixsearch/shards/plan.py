"""The shard plan: a corpus split into fixed-size runs of documents, the same way every time.

Shard ``i`` holds documents ``[i·size, (i+1)·size)`` in the corpus reader's order (sorted paths for
a folder, line order for JSONL), so a rerun over the same source finds the same boundaries and can
skip the shards it finished. The source fingerprint covers every document's id, text, metadata and
image file (path, size, modification time) and the reader's per-item errors: a changed source is
refused against an existing shards folder instead of being mixed with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mixsearch.corpus import is_mixbench_folder, read_corpus
from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError

DEFAULT_SHARD_SIZE = 2048


@dataclass
class ShardPlan:
    source: Path
    kind: str  # folder, jsonl or mixbench
    documents: list[Document]
    shard_size: int
    fingerprint: str
    errors: list[ItemError] = field(default_factory=list)  # the corpus reader's
    ignored: list[str] = field(default_factory=list)

    @property
    def shard_count(self) -> int:
        return -(-len(self.documents) // self.shard_size)

    def shard_documents(self, index: int) -> list[Document]:
        return self.documents[index * self.shard_size : (index + 1) * self.shard_size]


def plan_shards(source: str | Path, shard_size: int = DEFAULT_SHARD_SIZE) -> ShardPlan:
    """Read the corpus (folder, JSONL or MixBench folder) and split it; image paths made absolute
    so shards do not depend on the directory they were made from."""
    if shard_size < 1:
        raise MixsearchError(f"shard size must be at least 1, got {shard_size}")
    source = Path(source).resolve()
    corpus = read_corpus(source)
    if not corpus.documents:
        reasons = "; ".join(str(e) for e in corpus.errors[:3])
        raise MixsearchError(
            f"no documents found in {source}" + (f" ({reasons})" if reasons else "")
        )
    documents = [_absolute(doc) for doc in corpus.documents]
    return ShardPlan(
        source=source,
        kind=_source_kind(source),
        documents=documents,
        shard_size=shard_size,
        fingerprint=source_fingerprint(documents, corpus.errors),
        errors=corpus.errors,
        ignored=corpus.ignored,
    )


def source_fingerprint(documents: Sequence[Document], errors: Sequence[ItemError]) -> str:
    """16 hex digits over what the documents are: cheap (file stats, not contents) so that
    planning a rerun of a large corpus does not read every image twice."""
    digest = hashlib.sha256()
    for doc in documents:
        stat = Path(doc.image).stat() if doc.image is not None else None
        entry = [
            doc.id,
            doc.text,
            str(doc.image) if doc.image is not None else None,
            [stat.st_size, stat.st_mtime_ns] if stat is not None else None,
            doc.metadata,
        ]
        digest.update(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    for err in errors:
        digest.update(f"error\0{err.item}\0{err.reason}\n".encode())
    return digest.hexdigest()[:16]


def _absolute(doc: Document) -> Document:
    if doc.image is None or Path(doc.image).is_absolute():
        return doc
    return Document(doc.id, text=doc.text, image=Path(doc.image).resolve(), metadata=doc.metadata)


def _source_kind(source: Path) -> str:
    if source.is_file():
        return "jsonl"
    return "mixbench" if is_mixbench_folder(source) else "folder"
