"""Running MixBench with an encoder: encode once, write an embedding folder, compare methods.

`run_mixbench` takes a loaded subset and exactly one fit source, checks the fit data is disjoint
from the test set, encodes test documents and queries and fit pairs (`encode_to_dir`, through
`mixsearch.document_encoding.encode_documents`, the encoding step of `Engine.add`) into a
precomputed-embedding folder, and runs `mixsearch.eval.embeddings.run_embeddings_benchmark` on
it, so a result is reproducible and re-running other methods is cheap. Query images are counted
in the results but never used: the engine's queries are text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.embeddings import DEFAULT_METHODS, run_embeddings_benchmark
from mixsearch.eval.embeddings_folder import save_embeddings_dir
from mixsearch.eval.mixbench_fit import FitData, check_disjoint, relevant, split_for_fit
from mixsearch.eval.mixbench_folder import MixBenchSubset
from mixsearch.fusion import DEFAULT_ALPHA

logger = logging.getLogger(__name__)


def run_mixbench(
    subset: MixBenchSubset,
    encoder: Any,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    fit: FitData | None = None,
    fit_split: float | None = None,
    seed: int = 0,
    out_dir: str | Path,
    alpha: float = DEFAULT_ALPHA,
    k: int = 10,
    splits: int = 5,
    refit_cv: bool = False,
    batch_size: int = 32,
    progress: bool = False,
    cache: Any = None,
) -> dict[str, Any]:
    """Encode ``subset`` (and fit data), write ``out_dir/embeddings``, compare ``methods``.

    Exactly one of ``fit`` (from `load_fit_data`) and ``fit_split`` must be given; the test set
    never contributes to fitting (`check_disjoint`).
    """
    if (fit is None) == (fit_split is None):
        raise MixsearchError(
            "give exactly one fit source: --fit PATH (disjoint data) or --fit-split FRACTION; "
            "alignments are never fitted on the test set"
        )
    test = subset
    if fit_split is not None:
        fit, test = split_for_fit(subset, fit_split, seed)
    assert fit is not None
    check_disjoint(fit, test)
    emb_dir = Path(out_dir) / "embeddings"
    errors = list(test.errors) + list(fit.errors)
    encode_to_dir(test, fit, encoder, emb_dir, batch_size, progress, cache, errors)
    results = run_embeddings_benchmark(
        emb_dir, methods, alpha=alpha, k=k, splits=splits, seed=seed, refit_cv=refit_cv
    )
    results["dataset"] = {
        "subset": subset.name,
        "corpus_file": subset.corpus_file,
        "fit": "split" if fit_split is not None else str(fit.root),
        "fit_split": fit_split,
        "n_fit_images": len(fit.images),
    }
    results["query_images"] = {
        "queries_with_image": sum(q.image_given for q in test.queries),
        "found": sum(q.image is not None for q in test.queries),
        "used": False,
        "note": "queries are encoded from their text only",
    }
    results["errors"] = [e.to_dict() for e in errors] + results["errors"]
    return results


def encode_to_dir(
    test: MixBenchSubset,
    fit: FitData,
    encoder: Any,
    out: Path,
    batch_size: int,
    progress: bool,
    cache: Any,
    errors: list[ItemError],
) -> Path:
    """Encode test queries/documents and fit pairs into a precomputed-embedding folder.

    Documents and fit pairs go through `encode_documents`, the encoding step of `Engine.add`:
    the same vectors, and a document whose image fails is dropped with the same error."""
    docs, doc_text, doc_image = _encode_documents(
        encoder, test.documents, batch_size, progress, cache, errors, "documents"
    )
    modality = np.array([int(d.modality) for d in docs], dtype=np.int8)
    doc_index = {d.id: i for i, d in enumerate(docs)}
    queries = [
        q for q in test.queries if any(d in doc_index for d in relevant(test.qrels.get(q.id, {})))
    ]
    qrels = [
        {doc_index[d]: g for d, g in test.qrels[q.id].items() if d in doc_index} for q in queries
    ]
    query_vecs = _encode_texts(encoder, [q.text for q in queries], batch_size, progress, "queries")
    pairs = [
        Document(id=str(i), text=text, image=image)
        for i, (image, text) in enumerate(zip(fit.images, fit.texts, strict=True))
    ]
    _, fit_text, fit_image = _encode_documents(
        encoder, pairs, batch_size, progress, cache, errors, "fit pairs"
    )
    fit_query = (
        _encode_texts(encoder, fit.query_texts, batch_size, progress, "fit queries")
        if fit.query_texts
        else None
    )
    meta = {
        "subset": test.name,
        "encoder": getattr(encoder, "name", type(encoder).__name__),
        "doc_ids": [d.id for d in docs],
        "query_ids": [q.id for q in queries],
        "doc_modality_note": "0 text, 1 image, 2 image+text",
    }
    return save_embeddings_dir(
        out,
        queries=query_vecs,
        doc_text=doc_text,
        doc_image=doc_image,
        doc_modality=modality,
        qrels=qrels,
        fit_image=fit_image,
        fit_text=fit_text,
        fit_query=fit_query,
        meta=meta,
    )


def _encode_documents(
    encoder: Any,
    docs: list[Document],
    batch_size: int,
    progress: bool,
    cache: Any,
    errors: list[ItemError],
    what: str,
) -> tuple[list[Document], np.ndarray, np.ndarray]:
    """The documents that encoded, with text and image vectors row-aligned to them (zero rows
    where a part is absent, as the embedding folder expects); failures are added to ``errors``."""
    from mixsearch.document_encoding import encode_documents

    if progress:
        logger.info("encoding %d %s", len(docs), what)
    raw = encode_documents(encoder, docs, progress=progress, cache=cache, batch_size=batch_size)
    errors.extend(raw.errors)
    rows, dim = len(raw.documents), int(encoder.dim)
    text = raw.text if raw.text is not None else np.zeros((rows, dim), np.float32)
    image = raw.image if raw.image is not None else np.zeros((rows, dim), np.float32)
    return raw.documents, text, image


def _encode_texts(
    encoder: Any, texts: list[str], batch_size: int, progress: bool, what: str
) -> np.ndarray:
    if not texts:
        return np.zeros((0, int(encoder.dim)), dtype=np.float32)
    if progress:
        logger.info("encoding %d %s", len(texts), what)
    vectors = encoder.encode_texts(texts, batch_size=batch_size, progress=progress)
    return np.asarray(vectors, dtype=np.float32)
