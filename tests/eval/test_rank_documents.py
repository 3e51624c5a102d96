"""`rank_documents` (the store's FAISS index, no SQLite) ranks exactly as a real Flat store does."""

from __future__ import annotations

import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.eval.embeddings import rank_documents
from mixsearch.fusion import document_vectors, query_vectors
from mixsearch.rank import rank
from mixsearch.store import Store


def _through_store(tmp_path, doc_vecs, modality, queries, depth, labels):
    """The reference: the documents in a real Flat store, ranked by `mixsearch.rank.rank`."""
    records = [
        DocRecord(
            doc_id=str(int(label)),
            modality=Modality(int(code)),
            text=None,
            image_path=None,
            metadata={},
            content_hash=f"row:{int(label)}",
        )
        for label, code in zip(labels, modality, strict=True)
    ]
    with Store.create(tmp_path / "s", dim=doc_vecs.shape[1], index_spec="Flat", extra={}) as store:
        store.add(records, doc_vecs)
        hits = rank(store, queries, depth)
    return [[int(h.doc_id) for h in row] for row in hits], [[h.score for h in row] for row in hits]


def test_same_ids_and_scores_as_a_real_flat_store(tmp_path):
    rng = np.random.default_rng(7)
    n, dim, depth = 300, 64, 100
    modality = rng.integers(0, 3, size=n)
    docs = document_vectors(
        rng.standard_normal((n, dim)), rng.standard_normal((n, dim)), modality, None, 0.5
    )
    docs[1::7] = docs[::7][: len(docs[1::7])]  # identical documents: exact ties to order
    queries = query_vectors(rng.standard_normal((40, dim)))
    labels = np.sort(rng.choice(10 * n, size=n, replace=False))  # row indices with gaps

    ranked = rank_documents(docs, queries, depth, labels)
    ids, scores = _through_store(tmp_path, docs, modality, queries, depth, labels)

    assert ranked.ids == ids
    np.testing.assert_allclose(ranked.scores, scores, rtol=0, atol=1e-6)


def test_depth_beyond_the_corpus_returns_every_document():
    rng = np.random.default_rng(1)
    docs = query_vectors(rng.standard_normal((5, 8)))
    ranked = rank_documents(docs, docs[:2], depth=100)
    assert [sorted(row) for row in ranked.ids] == [list(range(5))] * 2
    assert [row[0] for row in ranked.ids] == [0, 1]  # each document is its own best match
