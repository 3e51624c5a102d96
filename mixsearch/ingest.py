"""The engine's write path: documents → deduplicated → encoded → (``auto`` alignment fitted) →
fused → committed in crash-safe chunks, with an `AddReport` of what happened.

`Engine.add` runs all of it; `Engine.add_shards` enters after encoding (the shards hold the raw
vectors); `Engine.add_vectors` stores vectors already in the shared space. Encoding itself is
`mixsearch.document_encoding`, shared with the embedding-shard runners.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.alignment_choice import alignment_label
from mixsearch.document_encoding import content_hash
from mixsearch.documents import DocRecord, Document, Modality, document_problem
from mixsearch.encoder_checks import check_shard_encoder
from mixsearch.errors import BadInputError, ItemError
from mixsearch.fusion import document_vectors, l2_normalize
from mixsearch.settings import auto_origin
from mixsearch.store_creation import (
    abandon_creation,
    claim_new_store,
    create_store,
    create_store_now,
    release_claim,
)

if TYPE_CHECKING:
    from mixsearch.encoders import EmbeddingCache
    from mixsearch.engine import Engine

MIN_FIT_PAIRS = 50  # below this a fitted map is noise; `auto` then keeps the raw space
COMMIT_EVERY = 2048  # documents per crash-safe commit during `add`


@dataclass
class AddReport:
    """What one `add`/`update` did: counts, per-item errors and seconds spent per stage."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ItemError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    alignment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.to_dict() for e in self.errors],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "alignment": self.alignment,
        }

    def _time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds


def add(
    engine: Engine,
    documents: Iterable[Document],
    progress: bool,
    commit_every: int,
    cache: EmbeddingCache | bool,
) -> AddReport:
    """`Engine.add`: refuse a wrong encoder or index spec and claim a new store before encoding."""
    report = AddReport()
    if engine._store is not None and engine._encoder_given:
        engine.check_encoder()  # another encoder is refused before any document is read
    from mixsearch.store.index_spec import is_auto, validate_spec

    if engine._store is None and not is_auto(engine._index):
        validate_spec(engine._index, engine._dim or engine.encoder.dim)  # before any encoding
    if engine._store is None:
        claim_new_store(engine)  # a second creator is told now, not after encoding
    try:
        return _add(engine, list(documents), report, progress, commit_every, cache)
    except BaseException:
        abandon_creation(engine)
        raise
    finally:
        release_claim(engine)


def _add(
    engine: Engine,
    documents: list[Document],
    report: AddReport,
    progress: bool,
    commit_every: int,
    cache: EmbeddingCache | bool,
) -> AddReport:
    docs, hashes = dedupe(engine, documents, report)
    if not docs:
        report.alignment = alignment_label(engine)
        return report
    text_vecs, image_vecs, docs = encode(engine, docs, report, progress, embedding_cache(cache))
    records = [record(d, hashes[d.id]) for d in docs]
    add_raw_vectors(engine, records, text_vecs, image_vecs, report, commit_every, progress)
    return report


def add_shards(engine: Engine, path: str | Path, progress: bool) -> AddReport:
    """`Engine.add_shards`: the shards' raw vectors enter the path after encoding."""
    from mixsearch.shards import load_shards

    shards = load_shards(path)
    check_shard_encoder(engine, shards.encoder_fingerprint, shards.path)
    report = AddReport(errors=list(shards.errors))
    fresh = changed_ids(engine, {r.doc_id: r.content_hash for r in shards.records}, report)
    keep = np.array([r.doc_id in fresh for r in shards.records], dtype=bool)
    records = [r for r, k in zip(shards.records, keep, strict=True) if k]
    if not records:
        report.alignment = alignment_label(engine)
        return report
    text = shards.text[keep] if shards.text is not None else None
    image = shards.image[keep] if shards.image is not None else None
    if engine._store is None:
        claim_new_store(engine)  # as `add`: a second creator is told now
    try:
        add_raw_vectors(engine, records, text, image, report, max(1, len(records)), progress)
    except BaseException:
        abandon_creation(engine)
        raise
    finally:
        release_claim(engine)
    return report


def add_raw_vectors(
    engine: Engine,
    records: list[DocRecord],
    text_vecs: np.ndarray | None,
    image_vecs: np.ndarray | None,
    report: AddReport,
    commit_every: int,
    progress: bool,
) -> None:
    """Raw encoder vectors (row-aligned with ``records``) → alignment (fitted now if
    ``auto``) → fused document vectors → committed."""
    modality = np.array([int(r.modality) for r in records], dtype=np.int64)
    resolve_pending_alignment(engine, modality, text_vecs, image_vecs, report)
    t0 = time.perf_counter()
    vectors = document_vectors(text_vecs, image_vecs, modality, engine.alignment, engine.alpha)
    report._time("align", time.perf_counter() - t0)
    commit(engine, records, vectors, report, commit_every, progress)
    report.alignment = alignment_label(engine)


def add_vectors(
    engine: Engine,
    doc_ids: Sequence[str],
    vectors: np.ndarray,
    modality: np.ndarray,
    texts: Sequence[str | None] | None,
    metadata: Sequence[dict[str, Any]] | None,
    commit_every: int,
    progress: bool,
) -> AddReport:
    """`Engine.add_vectors`: precomputed vectors, already in the shared space, stored as given."""
    vectors = l2_normalize(vectors)
    if len(doc_ids) != len(vectors) or len(modality) != len(vectors):
        raise BadInputError("doc_ids, vectors and modality must have the same length")
    if engine._store is None:
        if isinstance(engine._alignment, str):
            engine._alignment = None  # nothing to fit on: vectors arrive already aligned
        engine._dim = vectors.shape[1]
        create_store_now(engine)
    records = [
        DocRecord(
            doc_id=str(doc_id),
            modality=Modality(int(m)),
            text=texts[i] if texts is not None else None,
            image_path=None,
            metadata=metadata[i] if metadata is not None else {},
            content_hash="",
        )
        for i, (doc_id, m) in enumerate(zip(doc_ids, modality, strict=True))
    ]
    report = AddReport()
    commit(engine, records, vectors, report, commit_every, progress)
    return report


def dedupe(
    engine: Engine, docs: list[Document], report: AddReport
) -> tuple[list[Document], dict[str, str]]:
    """Documents to encode (duplicate ids reported, unchanged ones skipped) and the content
    hash of each, computed once: it decides "unchanged" and is stored with the record."""
    unique: dict[str, Document] = {}
    for doc in docs:
        problem = document_problem(doc)
        if problem is not None:
            report.errors.append(ItemError(printable(doc.id), problem))
        elif doc.id in unique:
            report.errors.append(ItemError(doc.id, "duplicate document id in this batch"))
        else:
            unique[doc.id] = doc
    hashes = {doc_id: content_hash(doc) for doc_id, doc in unique.items()}
    changed = changed_ids(engine, hashes, report)
    return [doc for doc in unique.values() if doc.id in changed], hashes


def changed_ids(engine: Engine, hashes: dict[str, str], report: AddReport) -> set[str]:
    """Ids (→ content hash) not stored with that hash; the others count as unchanged."""
    stored = {}
    if engine._store is not None:
        stored = {r.doc_id: r.content_hash for r in engine._store.get(list(hashes))}
    changed = {doc_id for doc_id, digest in hashes.items() if stored.get(doc_id) != digest}
    report.unchanged += len(hashes) - len(changed)
    return changed


def encode(
    engine: Engine,
    docs: list[Document],
    report: AddReport,
    progress: bool,
    cache: EmbeddingCache | None,
) -> tuple[np.ndarray | None, np.ndarray | None, list[Document]]:
    """Text and image vectors row-aligned with the returned documents (failed images dropped)."""
    from mixsearch.document_encoding import encode_documents

    raw = encode_documents(engine.encoder, docs, progress=progress, cache=cache)
    report.errors.extend(raw.errors)
    for stage, seconds in raw.timings.items():
        report._time(stage, seconds)
    return raw.text, raw.image, raw.documents


def resolve_pending_alignment(
    engine: Engine,
    modality: np.ndarray,
    text_vecs: np.ndarray | None,
    image_vecs: np.ndarray | None,
    report: AddReport,
) -> None:
    if engine._alignment != "auto":
        return
    t0 = time.perf_counter()
    paired = modality == int(Modality.IMAGE_TEXT)
    if paired.sum() >= MIN_FIT_PAIRS and text_vecs is not None and image_vecs is not None:
        from mixsearch.align import fit_alignment
        from mixsearch.align.threads import one_blas_thread

        # Cross-validation runs dozens of D×D SVDs: too small to gain from BLAS threads, and
        # spinning BLAS threads made them many times slower on a busy machine (RESULTS.md).
        # one_blas_thread also reaches scipy's own BLAS, which a plain limit entered before
        # scipy.linalg's first import misses.
        with one_blas_thread():
            engine._alignment = fit_alignment(
                image_vecs[paired], text_vecs[paired], method="auto", alpha=engine.alpha
            )
    else:
        engine._alignment = None
    engine._alignment_choice, engine._alignment_origin = auto_origin(
        engine._alignment is not None, int(paired.sum()), MIN_FIT_PAIRS
    )
    report._time("align", time.perf_counter() - t0)
    engine._dim = int(text_vecs.shape[1] if text_vecs is not None else image_vecs.shape[1])  # type: ignore[union-attr]
    create_store(engine)


def commit(
    engine: Engine,
    records: list[DocRecord],
    vectors: np.ndarray,
    report: AddReport,
    every: int,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    store = engine.store
    existing = store.contains([r.doc_id for r in records])
    t0 = time.perf_counter()
    with tqdm(total=len(records), desc="commit", unit="doc", disable=not progress) as bar:
        for start in range(0, len(records), every):
            chunk = records[start : start + every]
            store.upsert(chunk, vectors[start : start + every])
            bar.update(len(chunk))
    report._time("store_commit", time.perf_counter() - t0)
    report.updated += sum(r.doc_id in existing for r in records)
    report.added += len(records) - sum(r.doc_id in existing for r in records)


def printable(doc_id: Any) -> str:
    """An id for a message, even one that is not valid Unicode."""
    return (
        repr(doc_id) if not isinstance(doc_id, str) else doc_id.encode("utf-8", "replace").decode()
    )


def embedding_cache(cache: EmbeddingCache | bool) -> EmbeddingCache | None:
    if cache is True:
        from mixsearch.encoders import EmbeddingCache, default_cache_dir

        return EmbeddingCache(default_cache_dir())
    return cache or None


def record(doc: Document, digest: str) -> DocRecord:
    return DocRecord(
        doc_id=doc.id,
        modality=doc.modality,
        text=doc.text,
        image_path=str(doc.image) if doc.image is not None else None,
        metadata=dict(doc.metadata),
        content_hash=digest,
    )
