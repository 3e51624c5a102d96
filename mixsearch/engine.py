"""The engine: documents in, ranked mixed-modality hits out.

    engine = Engine.create("store/", encoder="offline-default", index="auto", alignment="auto")
    report = engine.add(read_corpus("photos/").documents, progress=True)
    hits = engine.search("a man riding a horse", k=10)
    engine = Engine.open("store/")          # later: same encoder and alignment, checked

How documents become vectors: the text part goes through the text encoder, the image part through
the image encoder and then the alignment's ``source`` side (image space → text space); image+text
documents fuse as normalise(α·text + (1−α)·image) (`mixsearch.fusion`). Queries go through the
text encoder and the alignment's ``query`` side.

Where the alignment comes from (recorded in the manifest): ``"auto"`` fits it on the corpus's own
image+text documents at the first `add` (they are paired data for free) when there are at least
`MIN_FIT_PAIRS` of them, else uses none; an `Alignment` or a saved alignment folder is used as
given; ``None``/``"none"`` means no transform. Because stored vectors live in the aligned space, the
store is created only once the alignment is known.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.document_encoding import content_hash
from mixsearch.documents import DocRecord, Document, Modality, document_problem
from mixsearch.errors import (
    AlignmentError,
    BadInputError,
    EncoderError,
    EncoderMismatchError,
    ItemError,
    MixsearchError,
    StoreExistsError,
    StoreNotFoundError,
)
from mixsearch.fusion import document_vectors, l2_normalize, query_vectors
from mixsearch.settings import (
    ALIGNMENT_DIR,
    DEFAULT_ALPHA,
    DEFAULT_ENCODER,
    AlignmentChoice,
    StoreSettings,
    auto_origin,
)

if TYPE_CHECKING:
    from mixsearch.align import Alignment
    from mixsearch.encoders import EmbeddingCache
    from mixsearch.encoders.base import Encoder
    from mixsearch.rank import Hit
    from mixsearch.store import Store

MAX_HITS = 10_000  # per query: k and candidates beyond this only exhaust memory
MIN_FIT_PAIRS = 50  # below this a fitted map is noise; `auto` then keeps the raw space
COMMIT_EVERY = 2048  # documents per crash-safe commit during `add`

EncoderSpec = str | Mapping[str, Any]
ImageQuery = Any  # a path (str / Path), the file's bytes, or a PIL image


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


class Engine:
    """A mixed-modality search engine over one store directory."""

    def __init__(
        self,
        path: Path,
        *,
        store: Store | None,
        encoder_spec: EncoderSpec | None,
        encoder: Encoder | None,
        alignment: Alignment | None | str,
        index: str,
        alpha: float,
        dim: int | None,
        device: str = "auto",
        alignment_origin: str | None = None,
        alignment_choice: AlignmentChoice | None = None,
    ) -> None:
        self.path = path
        self._store = store
        self._encoder_spec = encoder_spec
        self._encoder = encoder
        self._encoder_checked = False  # fingerprint compared with the store's, once
        self._encoder_given = False  # `open` was told which encoder to use
        self._alignment = alignment  # "auto" until fitted at the first add
        self._index = index
        self.alpha = alpha
        self._dim = dim
        self._device = device
        self._alignment_origin = alignment_origin
        self._alignment_choice = alignment_choice  # None until known (after `auto` has chosen)
        self._claim: Any = None  # the new store's write lock, from before encoding to creation
        # (alignment, A, b) of the query side x @ A + b; None parts are identity / zero
        self._query_affine: tuple[Any, np.ndarray | None, np.ndarray | None] = (None, None, None)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        path: str | Path,
        encoder: EncoderSpec | Encoder | None = DEFAULT_ENCODER,
        *,
        index: str = "auto",
        alignment: Alignment | str | Path | None = "auto",
        alpha: float = DEFAULT_ALPHA,
        dim: int | None = None,
        device: str = "auto",
    ) -> Engine:
        """A new engine whose store will live at ``path``.

        Args:
            path: A new or empty directory for the store.
            encoder: An encoder name (``"offline-default"``, ``"openclip:ARCH/TAG"``…), an
                ``[encoder]`` config mapping, an `Encoder` instance, or None for a vector-only
                engine (then give ``dim`` and use `add_vectors`).
            index: A FAISS factory string (``"Flat"``, ``"HNSW32"``, ``"IVF1024,PQ32"``…) or
                ``"auto"`` (chosen from the corpus size at the first commit).
            alignment: ``"auto"`` (fit on the corpus's image+text documents at the first `add`
                when there are enough of them), ``"none"``/None, an `Alignment`, or a saved
                alignment folder.
            alpha: Text weight of image+text documents, in [0, 1].
            dim: Vector dimension; needed only without an encoder.
            device: ``"auto"``, ``"cpu"`` or ``"cuda"`` for the encoder.

        Returns:
            The engine. Its store is created on disk once the alignment is known: now for a
            given (or no) alignment, at the first `add` for ``"auto"``.

        Raises:
            StoreExistsError: ``path`` already holds a store.
            BadInputError: ``alpha`` outside [0, 1], or no encoder and no ``dim``.
            IndexSpecError: ``index`` is not a valid spec (or does not fit ``dim``).
            AlignmentError: an alignment folder that does not exist or cannot be read.
        """
        path = Path(path)
        _refuse_existing(path)
        if not 0.0 <= alpha <= 1.0:
            raise BadInputError(f"alpha must lie in [0, 1], got {alpha}")
        spec, instance = _split_encoder(encoder)
        if spec is None and instance is None and dim is None:
            raise BadInputError("a vector-only engine (encoder=None) needs dim=")
        from mixsearch.store.index_spec import validate_spec

        # Before any document is read: the form now, the fit to the dimension once it is known
        # (here, or in `add` before encoding).
        validate_spec(index, dim if dim is not None else getattr(instance, "dim", None))
        engine = cls(
            path,
            store=None,
            encoder_spec=spec,
            encoder=instance,
            alignment=_resolve_alignment_arg(alignment),
            index=index,
            alpha=alpha,
            dim=dim,
            device=device,
        )
        if not isinstance(engine._alignment, str):
            engine._create_store_now()
        return engine

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        encoder: EncoderSpec | Encoder | None = None,
        device: str = "auto",
        readonly: bool = False,
    ) -> Engine:
        """Re-open an existing store with the settings it was built with.

        Args:
            path: The store directory.
            encoder: Another way to name the store's encoder (a spec or an instance); default:
                rebuilt from the recorded spec. A different encoder is refused when it is first
                needed (its fingerprint is checked against the manifest).
            device: ``"auto"``, ``"cpu"`` or ``"cuda"`` for the encoder.
            readonly: for searching: nothing on disk is changed, and read-only media work.

        Returns:
            The engine, its store open (reading needs no lock; writing takes the store's lock).

        Raises:
            StoreNotFoundError: ``path`` is not a mixsearch store.
            StoreCorruptError: the store's files are damaged (the message names
                `mixsearch verify --repair`), or a half-created store.
            StoreVersionError: the store was written in a format this version does not read.
            AlignmentError: the store's alignment folder was replaced or removed.
        """
        from mixsearch.store import Store

        path = Path(path)
        store = Store.open(path, readonly=readonly)
        settings = StoreSettings.from_manifest(store.manifest)
        try:
            alignment = _load_store_alignment(path, settings)
        except BaseException:
            store.close()
            raise
        spec, instance = _split_encoder(encoder) if encoder is not None else (None, None)
        if spec is None and instance is None:
            spec = settings.encoder_spec
        engine = cls(
            path,
            store=store,
            encoder_spec=spec,
            encoder=instance,
            alignment=alignment,
            index=settings.index_spec,
            alpha=settings.alpha,
            dim=store.dim,
            device=device,
            alignment_origin=settings.alignment_origin,
            alignment_choice=settings.alignment_choice,
        )
        engine._encoder_given = encoder is not None
        return engine

    def close(self) -> None:
        self._release_claim()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ properties
    @property
    def encoder(self) -> Encoder:
        self.check_encoder()
        assert self._encoder is not None
        return self._encoder

    def check_encoder(self, *, given: str | None = None, remedy: str | None = None) -> None:
        """Load the encoder now and refuse it when the store was built with another one.

        Args:
            given: How the caller names the encoder, for the message (default: its name).
            remedy: What to do about a mismatch, for the message (default: a neutral hint).

        Raises:
            EncoderMismatchError: the encoder's fingerprint is not the store's.
            WeightsUnavailableError: the encoder's weights cannot be loaded.
            BadInputError: a vector-only engine has no encoder.
        """
        if self._encoder is None:
            if self._encoder_spec is None:
                raise MixsearchError("this engine has no encoder (vector-only store)")
            from mixsearch.encoders import create_encoder

            self._encoder = create_encoder(self._encoder_spec, device=self._device)
        if not self._encoder_checked:
            self._check_encoder(self._encoder, given, remedy)
            self._encoder_checked = True

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreNotFoundError(f"{self.path} is empty: add documents first")
        return self._store

    @property
    def settings(self) -> StoreSettings:
        """What the store was built with (encoder, alignment and how it was chosen, α, index)."""
        return StoreSettings.from_manifest(self.store.manifest)

    @property
    def alignment(self) -> Alignment | None:
        return None if isinstance(self._alignment, str) else self._alignment

    # ------------------------------------------------------------------ writing
    def add(
        self,
        documents: Iterable[Document],
        *,
        progress: bool = False,
        commit_every: int = COMMIT_EVERY,
        cache: EmbeddingCache | bool = True,
    ) -> AddReport:
        """Encode documents and store them.

        Ids already stored with the same content are skipped, with different content updated.
        A document that cannot be read (a corrupt image, a missing file) becomes an error
        record in the report while the others are stored.

        Args:
            documents: Text, image or image+text `Document`s.
            progress: Show progress bars.
            commit_every: Documents per crash-safe commit.
            cache: The on-disk embedding cache (True: the default one, False: none, or an
                `EmbeddingCache`).

        Returns:
            An `AddReport`: counts added/updated/unchanged, per-item errors, seconds per stage
            and the alignment in use.

        Raises:
            EncoderMismatchError: ``open`` was given an encoder that is not the store's.
            IndexSpecError: the index spec does not fit the encoder's dimension.
            StoreLockedError: another process keeps writing the store.
        """
        report = AddReport()
        if self._store is not None and self._encoder_given:
            self.check_encoder()  # another encoder is refused before any document is read
        from mixsearch.store.index_spec import is_auto, validate_spec

        if self._store is None and not is_auto(self._index):
            validate_spec(self._index, self._dim or self.encoder.dim)  # before any encoding
        if self._store is None:
            self._claim_new_store()  # a second creator is told now, not after encoding
        try:
            return self._add(list(documents), report, progress, commit_every, cache)
        except BaseException:
            self._abandon_creation()
            raise
        finally:
            self._release_claim()

    def _add(
        self,
        documents: list[Document],
        report: AddReport,
        progress: bool,
        commit_every: int,
        cache: EmbeddingCache | bool,
    ) -> AddReport:
        docs, hashes = self._dedupe(documents, report)
        if not docs:
            report.alignment = self._alignment_label()
            return report
        text_vecs, image_vecs, docs = self._encode(docs, report, progress, _embedding_cache(cache))
        records = [_record(d, hashes[d.id]) for d in docs]
        self._add_raw_vectors(records, text_vecs, image_vecs, report, commit_every, progress)
        return report

    def add_shards(self, path: str | Path, *, progress: bool = False) -> AddReport:
        """Commit the embedding shards of `mixsearch embed` (a folder with its manifest) in one
        crash-safe commit: unchanged documents skipped, the ``auto`` alignment fitted on their
        image+text documents, fused, stored. Shards of another encoder than the store's are
        refused; the shards' per-item errors are reported as `add` reports them."""
        from mixsearch.shards import load_shards

        shards = load_shards(path)
        self._check_shard_encoder(shards.encoder_fingerprint, shards.path)
        report = AddReport(errors=list(shards.errors))
        fresh = self._changed_ids({r.doc_id: r.content_hash for r in shards.records}, report)
        keep = np.array([r.doc_id in fresh for r in shards.records], dtype=bool)
        records = [r for r, k in zip(shards.records, keep, strict=True) if k]
        if not records:
            report.alignment = self._alignment_label()
            return report
        text = shards.text[keep] if shards.text is not None else None
        image = shards.image[keep] if shards.image is not None else None
        if self._store is None:
            self._claim_new_store()  # as `add`: a second creator is told now
        try:
            self._add_raw_vectors(records, text, image, report, max(1, len(records)), progress)
        except BaseException:
            self._abandon_creation()
            raise
        finally:
            self._release_claim()
        return report

    def _add_raw_vectors(
        self,
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
        self._resolve_pending_alignment(modality, text_vecs, image_vecs, report)
        t0 = time.perf_counter()
        vectors = document_vectors(text_vecs, image_vecs, modality, self.alignment, self.alpha)
        report._time("align", time.perf_counter() - t0)
        self._commit(records, vectors, report, commit_every, progress)
        report.alignment = self._alignment_label()

    def add_vectors(
        self,
        doc_ids: Sequence[str],
        vectors: np.ndarray,
        modality: np.ndarray,
        *,
        texts: Sequence[str | None] | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        commit_every: int = 100_000,
        progress: bool = False,
    ) -> AddReport:
        """Store precomputed document vectors that are already in the shared space.

        Args:
            doc_ids: One id per row.
            vectors: Float array [n, dim]; rows are L2-normalised here.
            modality: `Modality` codes [n] (0 text, 1 image, 2 image+text).
            texts: Optional text per row, kept for display.
            metadata: Optional JSON-able mapping per row, for ``where`` filters.
            commit_every: Rows per crash-safe commit.
            progress: Show a progress bar.

        Returns:
            An `AddReport` with the counts.

        Raises:
            BadInputError: lengths differ, or rows that are zero or non-finite.
        """
        vectors = l2_normalize(vectors)
        if len(doc_ids) != len(vectors) or len(modality) != len(vectors):
            raise BadInputError("doc_ids, vectors and modality must have the same length")
        if self._store is None:
            if isinstance(self._alignment, str):
                self._alignment = None  # nothing to fit on: vectors arrive already aligned
            self._dim = vectors.shape[1]
            self._create_store_now()
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
        self._commit(records, vectors, report, commit_every, progress)
        return report

    def remove(self, doc_ids: Sequence[str]) -> tuple[int, list[str]]:
        """Remove documents by id.

        Args:
            doc_ids: The ids to remove.

        Returns:
            (number removed, the ids that were not in the store).

        Raises:
            StoreNotFoundError: nothing was ever added.
        """
        missing = self.store.missing(list(doc_ids))
        absent = set(missing)
        removed = self.store.remove([d for d in doc_ids if d not in absent])
        return removed, missing

    def compact(self, index: str | None = None) -> None:
        """Rebuild the index without removed documents.

        Args:
            index: Another FAISS spec to rebuild as (default: the current one).

        Raises:
            IndexSpecError: ``index`` is not valid for the store's dimension.
        """
        if index is not None:
            from mixsearch.store.index_spec import validate_spec

            validate_spec(index, self.store.dim)
        self.store.compact(index)

    def tune(
        self,
        target_recall: float = 0.95,
        k: int = 10,
        *,
        queries: Sequence[str] | np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Pick nprobe/efSearch for a target recall and record them in the manifest.

        Args:
            target_recall: Recall@k to reach against exact search.
            k: The cut-off of that recall.
            queries: Sample queries (texts, or raw query embeddings); default: held-out
                queries made from the stored vectors.

        Returns:
            What was chosen and measured (parameters, recall, latency).
        """
        from mixsearch.tune import tune_search_params

        vectors = None
        if queries is not None:
            raw = (
                queries
                if isinstance(queries, np.ndarray)
                else self.encoder.encode_texts(list(queries))
            )
            vectors = query_vectors(raw, self.alignment)
        return tune_search_params(self.store, target_recall=target_recall, k=k, queries=vectors)

    # ------------------------------------------------------------------ reading
    def search(
        self,
        query: str | None = None,
        k: int = 10,
        *,
        image: ImageQuery | None = None,
        modality: Any = None,
        where: Mapping[str, Any] | None = None,
        candidates: int | None = None,
        rescore: bool = False,
        query_encoder: EncoderSpec | Encoder | None = None,
        bridge: Alignment | str | Path | None = None,
    ) -> list[Hit]:
        """Top-k documents of every modality for one text query, one image, or both.

        Args:
            query: The query text.
            k: How many hits.
            image: A path, the file's bytes or a PIL image: it goes through the image encoder
                and the alignment's source side, like an image document. With ``query`` too,
                their vectors are summed.
            modality: Restrict to a modality (``"text"``, ``"image"``, ``"image+text"``) or a
                list of them.
            where: Metadata conditions: ``{"year": 2020}`` or ``{"year": {"gte": 2020}}``.
            candidates: FAISS candidates to fetch before re-ranking (default k, or 4k when
                re-scoring).
            rescore: Re-score the candidates exactly from the stored vectors.
            query_encoder: Another encoder to embed the query with (needs ``bridge``).
            bridge: An alignment from ``query_encoder``'s space to the store's.

        Returns:
            `Hit`s, best first: id, score, modality, text snippet, image path, metadata, rank.

        Raises:
            BadInputError: an empty query, k < 1, a bad filter, or a bridge without its encoder.
            EncoderMismatchError: the store's encoder changed, or the bridge is for other models.
        """
        if image is None:
            if query is None:
                raise BadInputError("give a query text, an image, or both")
            return self.search_batch(
                [query],
                k,
                modality=modality,
                where=where,
                candidates=candidates,
                rescore=rescore,
                query_encoder=query_encoder,
                bridge=bridge,
            )[0]
        if query_encoder is not None or bridge is not None:
            raise BadInputError("an image query cannot go through a bridge (text encoders only)")
        vector = self.query_vector(texts=[(query, 1.0)] if query else (), images=[(image, 1.0)])
        return self.search_aligned(
            vector, k, modality=modality, where=where, candidates=candidates, rescore=rescore
        )[0]

    def search_like(
        self,
        doc_id: str,
        k: int = 10,
        *,
        modality: Any = None,
        where: Mapping[str, Any] | None = None,
        candidates: int | None = None,
        rescore: bool = False,
    ) -> list[Hit]:
        """ "More like this": the documents nearest to a stored document, itself left out. Its
        stored vector is the query — for an image document exactly what querying with its image
        gives (image encoder, then the alignment's source side), with no file read."""
        found = self.store.faiss_ids([doc_id])
        if doc_id not in found:
            raise BadInputError(f"no document {doc_id!r} in {self.path}")
        vector = self.store.vectors_for([found[doc_id]])
        hits = self.search_aligned(
            vector, k + 1, modality=modality, where=where, candidates=candidates, rescore=rescore
        )[0]
        others = [h for h in hits if h.doc_id != doc_id][:k]
        for rank_, hit in enumerate(others, start=1):
            hit.rank = rank_
        return others

    def query_vector(
        self,
        *,
        texts: Sequence[tuple[str, float]] = (),
        images: Sequence[tuple[ImageQuery, float]] = (),
    ) -> np.ndarray:
        """One [1, dim] query in the store's space from weighted terms: texts through the query
        side, images through the source side, then sum(weight · vector), normalised. A negative
        weight pushes results away from a term ("a dog" 1.0, "grass" -0.5)."""
        if not texts and not images:
            raise BadInputError("empty query: give at least one text or image")
        parts, weights = [], []
        if texts:
            if any(not t or not t.strip() for t, _ in texts):
                raise BadInputError("empty query text")
            parts.append(
                query_vectors(self.encoder.encode_texts([t for t, _ in texts]), self.alignment)
            )
            weights += [w for _, w in texts]
        if images:
            parts.append(self.image_query_vectors([i for i, _ in images]))
            weights += [w for _, w in images]
        combined = np.asarray(weights, np.float32) @ np.concatenate(parts)
        if not np.linalg.norm(combined) > 1e-6:
            raise BadInputError("the weighted query terms cancel out: nothing to search for")
        return l2_normalize(combined[None, :])

    def image_query_vectors(self, images: Sequence[ImageQuery]) -> np.ndarray:
        """Images as queries: image encoder, then the alignment's source side, normalised."""
        from mixsearch.encoders import supports_images
        from mixsearch.encoders.images import load_query_image

        encoder = self.encoder
        if not supports_images(encoder):
            raise EncoderError(f"the store's encoder {encoder.name!r} cannot encode images")
        raw = encoder.encode_images([load_query_image(i) for i in images])
        if self.alignment is None:
            return l2_normalize(raw)
        return l2_normalize(self.alignment.transform(raw, side="source", normalize=False))

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        modality: Any = None,
        where: Mapping[str, Any] | None = None,
        candidates: int | None = None,
        rescore: bool = False,
        query_encoder: EncoderSpec | Encoder | None = None,
        bridge: Alignment | str | Path | None = None,
    ) -> list[list[Hit]]:
        """`search` for several query texts at once (one batched encode and FAISS search).

        Returns:
            One list of `Hit`s per query, in order.
        """
        if not queries or any(not q or not q.strip() for q in queries):
            raise BadInputError("empty query text")
        raw = self._encode_queries(list(queries), query_encoder, bridge)
        return self.search_vectors(
            raw, k, modality=modality, where=where, candidates=candidates, rescore=rescore
        )

    def search_vectors(
        self,
        query_vectors_raw: np.ndarray,
        k: int = 10,
        *,
        modality: Any = None,
        where: Mapping[str, Any] | None = None,
        candidates: int | None = None,
        rescore: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> list[list[Hit]]:
        """Rank for raw text-query embeddings (the alignment's query side is applied here).

        Args:
            query_vectors_raw: [n, dim] (or [dim]) embeddings from the store's text encoder.
            k, modality, where, candidates, rescore: as in `search`.
            params: FAISS search parameters (``nprobe``, ``efSearch``) for this call.

        Returns:
            One list of `Hit`s per query row.

        Raises:
            BadInputError: k < 1 or vectors of another dimension.
        """
        q = np.asarray(query_vectors_raw, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.store.dim:
            raise BadInputError(
                f"query vectors have dimension {q.shape[-1]}, the store holds {self.store.dim}"
            )
        return self.search_aligned(
            self._query_side(q),
            k,
            modality=modality,
            where=where,
            candidates=candidates,
            rescore=rescore,
            params=params,
        )

    def search_aligned(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        modality: Any = None,
        where: Mapping[str, Any] | None = None,
        candidates: int | None = None,
        rescore: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> list[list[Hit]]:
        """Rank for query vectors already in the store's space (see `query_vector`)."""
        from mixsearch.rank import rank

        if k < 1 or k > MAX_HITS:
            raise BadInputError(f"k must lie between 1 and {MAX_HITS}, got {k}")
        if candidates is not None and candidates > 4 * MAX_HITS:
            raise BadInputError(f"candidates must be at most {4 * MAX_HITS}, got {candidates}")
        return rank(
            self.store,
            vectors,
            k,
            modality=modality,
            where=dict(where) if where else None,
            candidates=candidates,
            rescore=rescore,
            params=dict(params) if params else None,
        )

    def _query_side(self, q: np.ndarray) -> np.ndarray:
        """The alignment's query side, then normalisation, in float32: the side is affine, so
        it is read off once as ``x @ A + b`` (A skipped when it is the identity, as for the
        centring maps) instead of calling `Alignment.transform` (float64) per query."""
        alignment = self.alignment
        if self._query_affine[0] is not alignment:
            self._query_affine = (alignment, *_affine_query_side(alignment, q.shape[1]))
        _, matrix, shift = self._query_affine
        if matrix is not None:
            q = q @ matrix
        if shift is not None:
            q = q + shift
        norms = np.sqrt(np.einsum("ij,ij->i", q, q))
        return q / np.maximum(norms, np.float32(1e-12))[:, None]

    def info(self) -> dict[str, Any]:
        """The manifest (settings, counts, index, generation) plus ``path`` and ``documents``."""
        if self._store is None:
            return {"path": str(self.path), "documents": 0, "state": "empty (not yet created)"}
        manifest = dict(self.store.manifest)
        manifest["path"] = str(self.path)
        manifest["documents"] = len(self.store)
        return manifest

    # ------------------------------------------------------------------ bridge (model upgrade)
    def fit_bridge(
        self, query_encoder: EncoderSpec | Encoder, texts: Sequence[str], *, method: str = "auto"
    ) -> Alignment:
        """Fit a bridge so another (newer) model can query this store without re-embedding.

        Args:
            query_encoder: The other model (a spec or an instance).
            texts: Texts embedded by both models; the map is fitted on these pairs.
            method: The alignment method (``"auto"``, ``"procrustes"``, ``"center"``…).

        Returns:
            An `Alignment` from ``query_encoder``'s text space into the store's, recording both
            fingerprints; pass it (or its saved folder) as ``bridge=`` to `search`.

        Raises:
            WeightsUnavailableError: either model cannot be loaded.
        """
        from mixsearch.align import fit_alignment
        from mixsearch.encoders import fingerprint_id

        new = _make_encoder(query_encoder, self._device)
        source = new.encode_texts(list(texts), progress=True)
        target = self.encoder.encode_texts(list(texts), progress=True)
        # a bridge's queries only ever meet the other model's texts: pair retrieval is its ranking
        bridge = fit_alignment(source, target, method=method, objective="pairs")
        bridge.extra["source_fingerprint"] = fingerprint_id(new)
        bridge.extra["target_fingerprint"] = fingerprint_id(self.encoder)
        bridge.extra["kind"] = "bridge"
        return bridge

    # ------------------------------------------------------------------ internals
    def _encode_queries(
        self,
        queries: list[str],
        query_encoder: EncoderSpec | Encoder | None,
        bridge: Alignment | str | Path | None,
    ) -> np.ndarray:
        if query_encoder is None:
            if bridge is not None:
                raise BadInputError(
                    "a bridge needs a query_encoder (the model the bridge maps from)"
                )
            return self.encoder.encode_texts(queries)
        if bridge is None:
            raise BadInputError(
                "querying with another encoder needs a bridge alignment (bridge=); "
                "fit one with Engine.fit_bridge"
            )
        from mixsearch.encoders import fingerprint_id

        new = _make_encoder(query_encoder, self._device)
        bridge_alignment = _load_alignment(bridge)
        _check_bridge(bridge_alignment, fingerprint_id(new), self._store_encoder_fingerprint())
        mapped = bridge_alignment.transform(
            new.encode_texts(queries), side="source", normalize=True
        )
        return np.asarray(mapped, dtype=np.float32)

    def _dedupe(
        self, docs: list[Document], report: AddReport
    ) -> tuple[list[Document], dict[str, str]]:
        """Documents to encode (duplicate ids reported, unchanged ones skipped) and the content
        hash of each, computed once: it decides "unchanged" and is stored with the record."""
        unique: dict[str, Document] = {}
        for doc in docs:
            problem = document_problem(doc)
            if problem is not None:
                report.errors.append(ItemError(_printable(doc.id), problem))
            elif doc.id in unique:
                report.errors.append(ItemError(doc.id, "duplicate document id in this batch"))
            else:
                unique[doc.id] = doc
        hashes = {doc_id: content_hash(doc) for doc_id, doc in unique.items()}
        changed = self._changed_ids(hashes, report)
        return [doc for doc in unique.values() if doc.id in changed], hashes

    def _changed_ids(self, hashes: dict[str, str], report: AddReport) -> set[str]:
        """Ids (→ content hash) not stored with that hash; the others count as unchanged."""
        stored = {}
        if self._store is not None:
            stored = {r.doc_id: r.content_hash for r in self._store.get(list(hashes))}
        changed = {doc_id for doc_id, digest in hashes.items() if stored.get(doc_id) != digest}
        report.unchanged += len(hashes) - len(changed)
        return changed

    def _encode(
        self, docs: list[Document], report: AddReport, progress: bool, cache: EmbeddingCache | None
    ) -> tuple[np.ndarray | None, np.ndarray | None, list[Document]]:
        """Text and image vectors row-aligned with the returned documents (failed images dropped)."""
        from mixsearch.document_encoding import encode_documents

        raw = encode_documents(self.encoder, docs, progress=progress, cache=cache)
        report.errors.extend(raw.errors)
        for stage, seconds in raw.timings.items():
            report._time(stage, seconds)
        return raw.text, raw.image, raw.documents

    def _resolve_pending_alignment(
        self,
        modality: np.ndarray,
        text_vecs: np.ndarray | None,
        image_vecs: np.ndarray | None,
        report: AddReport,
    ) -> None:
        if self._alignment != "auto":
            return
        t0 = time.perf_counter()
        paired = modality == int(Modality.IMAGE_TEXT)
        if paired.sum() >= MIN_FIT_PAIRS and text_vecs is not None and image_vecs is not None:
            from threadpoolctl import threadpool_limits

            from mixsearch.align import fit_alignment

            # Cross-validation runs dozens of D×D SVDs: too small to gain from BLAS threads, and
            # spinning BLAS threads made them many times slower on a busy machine (RESULTS.md).
            with threadpool_limits(limits=1, user_api="blas"):
                self._alignment = fit_alignment(
                    image_vecs[paired], text_vecs[paired], method="auto", alpha=self.alpha
                )
        else:
            self._alignment = None
        self._alignment_choice, self._alignment_origin = auto_origin(
            self._alignment is not None, int(paired.sum()), MIN_FIT_PAIRS
        )
        report._time("align", time.perf_counter() - t0)
        self._dim = int(text_vecs.shape[1] if text_vecs is not None else image_vecs.shape[1])  # type: ignore[union-attr]
        self._create_store()

    def _create_store(self) -> None:
        from mixsearch.store import Store

        dim = self._dim
        if dim is None:
            dim = self.encoder.dim
        self._dim = dim
        alignment = self.alignment
        if self._alignment_choice is None:
            self._alignment_choice = AlignmentChoice.GIVEN if alignment else AlignmentChoice.NONE
        claim = self._claim_new_store()
        from mixsearch.store.crashpoints import crash_point

        if alignment is not None:
            # Saved (and fsynced) first, committed second, in the one SQLite transaction that
            # creates the store: a crash in between leaves an uncommitted creation, never a store
            # whose manifest claims an alignment it does not apply.
            alignment.save(self.path / ALIGNMENT_DIR)
            crash_point("alignment-saved")
        settings = StoreSettings(
            **self._encoder_settings(),
            alpha=self.alpha,
            alignment_choice=self._alignment_choice,
            alignment_origin=self._alignment_origin or ("given" if alignment else "none"),
            alignment_fingerprint=alignment.fingerprint if alignment is not None else None,
            alignment_file=ALIGNMENT_DIR if alignment is not None else None,
            alignment_method=alignment.method if alignment is not None else None,
            index_spec=self._index,
        )
        self._store = Store.create(
            self.path, dim=dim, index_spec=self._index, extra=settings.to_extra(), claimed=claim
        )
        self._claim = None  # the store holds it now, until `_release_claim`

    def _create_store_now(self) -> None:
        """Create the store outside `add` (an alignment given up front, or precomputed vectors)."""
        try:
            self._create_store()
        except BaseException:
            self._abandon_creation()
            raise
        finally:
            self._release_claim()

    def _claim_new_store(self) -> Any:
        if self._claim is None:
            from mixsearch.store.crashpoints import crash_point
            from mixsearch.store.layout import claim_new_store

            self._claim = claim_new_store(self.path)
            crash_point("claimed")
        return self._claim

    def _release_claim(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None
        if self._store is not None:
            self._store.release_lock()

    def _abandon_creation(self) -> None:
        """An `add` that failed before the store was committed leaves nothing behind."""
        if self._claim is not None and self._store is None:
            from mixsearch.store.layout import clear_interrupted_creation

            clear_interrupted_creation(self.path)

    def _encoder_settings(self) -> dict[str, Any]:
        """The encoder fields of the store's settings (none for a vector-only engine)."""
        if self._encoder_spec is None and self._encoder is None:
            return {}
        from mixsearch.encoders import fingerprint_id
        from mixsearch.encoders.factory import reopening_spec

        return {
            "encoder_spec": reopening_spec(self._encoder_spec, self.encoder),
            "encoder_fingerprint": fingerprint_id(self.encoder),
            "encoder_fingerprint_detail": self.encoder.fingerprint(),
        }

    def _commit(
        self,
        records: list[DocRecord],
        vectors: np.ndarray,
        report: AddReport,
        every: int,
        progress: bool,
    ) -> None:
        from tqdm.auto import tqdm

        store = self.store
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

    def _check_shard_encoder(self, fingerprint: str, where: Path) -> None:
        """Shards are stored only by a store (or a new engine) of the encoder that made them."""
        expected = self._store_encoder_fingerprint()
        if expected is None:
            from mixsearch.encoders import fingerprint_id

            expected = fingerprint_id(self.encoder)  # a new store: its encoder, loaded here
        if fingerprint != expected:
            raise MixsearchError(
                f"{where} was encoded with encoder fingerprint {fingerprint}, but {self.path} "
                f"uses {expected}: embed with the store's encoder, or index into a new store"
            )

    def _check_encoder(
        self, encoder: Encoder, given: str | None = None, remedy: str | None = None
    ) -> None:
        expected = self._store_encoder_fingerprint()
        if expected is None:
            return
        from mixsearch.encoders import fingerprint_id

        got = fingerprint_id(encoder)
        if got != expected:
            built = self.settings.encoder_label
            raise EncoderMismatchError(
                f"{self.path} was built with encoder {built} (fingerprint {expected}); "
                f"{given or f'encoder {encoder.name!r}'} has fingerprint {got}: "
                + (
                    remedy
                    or "use the same encoder, or query through a bridge alignment "
                    "(query_encoder= and bridge=)"
                )
            )

    def _store_encoder_fingerprint(self) -> str | None:
        if self._store is None:
            return None
        return self._store.manifest.get("extra", {}).get("encoder_fingerprint")

    def _alignment_label(self) -> str:
        if self._alignment == "auto":
            return "auto (not fitted yet: no documents added)"
        alignment = self.alignment
        origin = self._alignment_origin
        if alignment is None:
            return origin or "none"
        return f"{alignment.method} ({origin or 'given'})"


# ---------------------------------------------------------------------- helpers
def _refuse_existing(path: Path) -> None:
    """`create` needs an absent or empty directory: a store, a half-created one or anything else
    there is refused with what to do (before any document is read)."""
    from mixsearch.store.layout import StoreState, refuse_unless_absent, store_state

    state = store_state(path)
    if state is StoreState.COMMITTED:
        raise StoreExistsError(
            f"{path} already holds a store; open it with Engine.open to add to it"
        )
    if state is not StoreState.ABSENT:
        refuse_unless_absent(path, state)


def _printable(doc_id: Any) -> str:
    """An id for a message, even one that is not valid Unicode."""
    return (
        repr(doc_id) if not isinstance(doc_id, str) else doc_id.encode("utf-8", "replace").decode()
    )


def _embedding_cache(cache: EmbeddingCache | bool) -> EmbeddingCache | None:
    if cache is True:
        from mixsearch.encoders import EmbeddingCache, default_cache_dir

        return EmbeddingCache(default_cache_dir())
    return cache or None


def _record(doc: Document, digest: str) -> DocRecord:
    return DocRecord(
        doc_id=doc.id,
        modality=doc.modality,
        text=doc.text,
        image_path=str(doc.image) if doc.image is not None else None,
        metadata=dict(doc.metadata),
        content_hash=digest,
    )


def _split_encoder(encoder: Any) -> tuple[EncoderSpec | None, Encoder | None]:
    """An encoder argument is a spec (name / config mapping) or an instance."""
    if encoder is None or isinstance(encoder, str | Mapping):
        return encoder, None
    return None, encoder


def _make_encoder(encoder: EncoderSpec | Encoder, device: str) -> Encoder:
    spec, instance = _split_encoder(encoder)
    if instance is not None:
        return instance
    from mixsearch.encoders import create_encoder

    return create_encoder(spec, device=device)  # type: ignore[arg-type]


def _resolve_alignment_arg(alignment: Alignment | str | Path | None) -> Alignment | str | None:
    if alignment is None or (isinstance(alignment, str) and alignment in ("none", "")):
        return None
    if isinstance(alignment, str) and alignment == "auto":
        return "auto"
    if isinstance(alignment, str | Path):
        return _load_alignment(alignment)
    return alignment


def _affine_query_side(
    alignment: Alignment | None, dim: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(A, b) in float32 with ``alignment.transform(x, side="query") == x @ A + b`` (unnormalised);
    None for an identity A or a zero b."""
    if alignment is None:
        return None, None
    probe = np.vstack([np.zeros((1, dim)), np.eye(dim)])
    mapped = np.asarray(alignment.transform(probe, side="query", normalize=False), np.float64)
    shift, matrix = mapped[0], mapped[1:] - mapped[0]
    identity = matrix.shape[0] == matrix.shape[1] and np.allclose(matrix, np.eye(dim), atol=1e-6)
    return (
        None if identity else matrix.astype(np.float32),
        shift.astype(np.float32) if np.any(shift) else None,
    )


def _load_alignment(value: Alignment | str | Path) -> Alignment:
    from mixsearch.align import Alignment

    if isinstance(value, Alignment):
        return value
    folder = Path(value)
    if not folder.is_dir():
        raise AlignmentError(f"alignment folder {folder} does not exist")
    return Alignment.load(folder)


def _load_store_alignment(path: Path, settings: StoreSettings) -> Alignment | None:
    expected = settings.alignment_fingerprint
    if not expected:
        return None
    alignment = _load_alignment(path / (settings.alignment_file or ALIGNMENT_DIR))
    if alignment.fingerprint != expected:
        raise AlignmentError(
            f"{path}: alignment file has fingerprint {alignment.fingerprint}, the manifest "
            f"records {expected}; the store's alignment was replaced — re-index or restore it"
        )
    return alignment


def _check_bridge(bridge: Alignment, query_fp: str, store_fp: str | None) -> None:
    src = bridge.extra.get("source_fingerprint")
    dst = bridge.extra.get("target_fingerprint")
    if src != query_fp or dst != store_fp:
        raise EncoderMismatchError(
            f"bridge maps encoder {src} → {dst}, but the query encoder is {query_fp} and the store "
            f"was built with {store_fp}; fit a bridge for this pair"
        )
