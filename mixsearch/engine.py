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

`Engine` is the front: it holds the state (store, encoder, alignment) and its methods hand the
work to one module per idea — `ingest` (documents → stored vectors), `store_creation` (the
crash-safe first index), `encoder_checks` and `alignment_choice` (which models, checked against
the store), `querying` (queries → vectors → hits) and `bridge` (querying with another model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch import bridge as bridges
from mixsearch import ingest, querying
from mixsearch.alignment_choice import load_store_alignment, resolve_alignment_arg
from mixsearch.documents import Document
from mixsearch.encoder_checks import EncoderSpec, load_checked_encoder, split_encoder
from mixsearch.errors import BadInputError, StoreNotFoundError
from mixsearch.fusion import query_vectors
from mixsearch.ingest import COMMIT_EVERY, MIN_FIT_PAIRS, AddReport
from mixsearch.querying import MAX_HITS, AffineQuerySide, ImageQuery
from mixsearch.settings import DEFAULT_ALPHA, DEFAULT_ENCODER, AlignmentChoice, StoreSettings
from mixsearch.store_creation import create_store_now, refuse_existing, release_claim

if TYPE_CHECKING:
    from mixsearch.align import Alignment
    from mixsearch.encoders import EmbeddingCache
    from mixsearch.encoders.base import Encoder
    from mixsearch.rank import Hit
    from mixsearch.store import Store

__all__ = [
    "COMMIT_EVERY",
    "MAX_HITS",
    "MIN_FIT_PAIRS",
    "AddReport",
    "Engine",
    "EncoderSpec",
    "ImageQuery",
]


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
        self._query_side_map = AffineQuerySide()  # caches the alignment's query side as x @ A + b

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
        refuse_existing(path)
        if not 0.0 <= alpha <= 1.0:
            raise BadInputError(f"alpha must lie in [0, 1], got {alpha}")
        spec, instance = split_encoder(encoder)
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
            alignment=resolve_alignment_arg(alignment),
            index=index,
            alpha=alpha,
            dim=dim,
            device=device,
        )
        if not isinstance(engine._alignment, str):
            create_store_now(engine)
        return engine

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        encoder: EncoderSpec | Encoder | None = None,
        device: str = "auto",
        readonly: bool = False,
        replacing: Engine | None = None,
    ) -> Engine:
        """Re-open an existing store with the settings it was built with.

        Args:
            path: The store directory.
            encoder: Another way to name the store's encoder (a spec or an instance); default:
                rebuilt from the recorded spec. A different encoder is refused when it is first
                needed (its fingerprint is checked against the manifest).
            device: ``"auto"``, ``"cpu"`` or ``"cuda"`` for the encoder.
            readonly: for searching: nothing on disk is changed, and read-only media work.
            replacing: The engine of this store that this one replaces (a long-lived reader
                following another process's commits): the vector rows it verified are not
                hashed again (`Store.open`).

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
        store = Store.open(
            path, readonly=readonly, replacing=None if replacing is None else replacing._store
        )
        settings = StoreSettings.from_manifest(store.manifest)
        try:
            alignment = load_store_alignment(path, settings)
        except BaseException:
            store.close()
            raise
        spec, instance = split_encoder(encoder) if encoder is not None else (None, None)
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
        release_claim(self)
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
        load_checked_encoder(self, given, remedy)

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
        return ingest.add(self, documents, progress, commit_every, cache)

    def add_shards(self, path: str | Path, *, progress: bool = False) -> AddReport:
        """Commit the embedding shards of `mixsearch embed` (a folder with its manifest) in one
        crash-safe commit: unchanged documents skipped, the ``auto`` alignment fitted on their
        image+text documents, fused, stored. Shards of another encoder than the store's are
        refused; the shards' per-item errors are reported as `add` reports them."""
        return ingest.add_shards(self, path, progress)

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
        return ingest.add_vectors(
            self, doc_ids, vectors, modality, texts, metadata, commit_every, progress
        )

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
            What was chosen and measured (parameters, recall and its lower confidence bound,
            the aim that bound had to reach, latency; `mixsearch.tune`).
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
        return querying.search(
            self,
            query,
            k,
            image=image,
            modality=modality,
            where=where,
            candidates=candidates,
            rescore=rescore,
            query_encoder=query_encoder,
            bridge=bridge,
        )

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
        return querying.search_like(
            self, doc_id, k, modality=modality, where=where, candidates=candidates, rescore=rescore
        )

    def query_vector(
        self,
        *,
        texts: Sequence[tuple[str, float]] = (),
        images: Sequence[tuple[ImageQuery, float]] = (),
    ) -> np.ndarray:
        """One [1, dim] query in the store's space from weighted terms: texts through the query
        side, images through the source side, then sum(weight · vector), normalised. A negative
        weight pushes results away from a term ("a dog" 1.0, "grass" -0.5)."""
        return querying.query_vector(self, texts, images)

    def image_query_vectors(self, images: Sequence[ImageQuery]) -> np.ndarray:
        """Images as queries: image encoder, then the alignment's source side, normalised."""
        return querying.image_query_vectors(self, images)

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
        raw = bridges.encode_queries(self, list(queries), query_encoder, bridge)
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
        return querying.search_aligned(
            self,
            self._query_side(query_vectors_raw),
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
        return querying.search_aligned(
            self,
            vectors,
            k,
            modality=modality,
            where=where,
            candidates=candidates,
            rescore=rescore,
            params=params,
        )

    def _query_side(self, q: np.ndarray) -> np.ndarray:
        """Raw query embeddings → the store's space: the alignment's query side, normalised
        (`querying.AffineQuerySide`)."""
        return self._query_side_map(self.alignment, q, self.store.dim)

    def info(self) -> dict[str, Any]:
        """The manifest (settings, counts, index, generation) plus ``path``, ``documents`` and
        ``filter_partitions`` (what a graph store's filter partitions hold in memory now)."""
        if self._store is None:
            return {"path": str(self.path), "documents": 0, "state": "empty (not yet created)"}
        manifest = dict(self.store.manifest)
        manifest["path"] = str(self.path)
        manifest["documents"] = len(self.store)
        manifest["filter_partitions"] = self.store.filter_partitions
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
        return bridges.fit_bridge(self, query_encoder, texts, method)
