"""Ranking metrics against hand-computed cases and scikit-learn's ndcg_score."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixsearch.eval.metrics import (
    evaluate_rankings,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    topk_modality_shares,
)


def test_ndcg_single_relevant_hand_cases() -> None:
    assert ndcg_at_k([7, 1, 2], {7: 1.0}) == 1.0
    assert ndcg_at_k([1, 7, 2], {7: 1.0}) == pytest.approx(1 / math.log2(3))
    ranking = list(range(20))
    assert ndcg_at_k(ranking, {9: 1.0}) == pytest.approx(1 / math.log2(11))  # rank 10: inside
    assert ndcg_at_k(ranking, {10: 1.0}) == 0.0  # rank 11: outside the top 10
    assert ndcg_at_k(ranking, {}) == 0.0


def test_ndcg_graded_hand_case() -> None:
    # grades 3 at rank 2 and 1 at rank 1: DCG = 1 + 3/log2(3); ideal = 3 + 1/log2(3)
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a", "c"], {"a": 3.0, "b": 1.0}) == pytest.approx(expected)


def test_ndcg_ideal_from_the_retrieved_top_k_as_mixbench_or_from_all_judged() -> None:
    # Two relevant documents but only one retrieved, at rank 1. MixBench (sklearn on the top k):
    # the ideal is built from the retrieved grades only, so 1. Judged: ideal 1 + 1/log2(3).
    assert ndcg_at_k([0, 5], {0: 1.0, 9: 1.0}, k=2) == 1.0
    judged = ndcg_at_k([0, 5], {0: 1.0, 9: 1.0}, k=2, ideal="judged")
    assert judged == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ndcg_matches_sklearn_on_random_rankings() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    n_docs = 60
    for _ in range(50):
        scores = rng.random(n_docs)  # continuous: no ties, so sklearn's tie averaging is moot
        grades = np.where(rng.random(n_docs) < 0.1, rng.integers(1, 4, n_docs), 0).astype(float)
        if not grades.any():
            grades[rng.integers(n_docs)] = 1.0
        ranking = list(np.argsort(-scores))
        qrels = {int(d): g for d, g in enumerate(grades) if g > 0}
        ours = ndcg_at_k(ranking, qrels, k=10, ideal="judged")
        theirs = sk.ndcg_score(grades[None, :], scores[None, :], k=10)
        assert ours == pytest.approx(theirs, abs=1e-12)


def test_ndcg_matches_mixbench_style_top10_call() -> None:
    """MixBench scores only the retrieved top 10 with sklearn; one relevant doc ⇒ identical."""
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(50):
        ranking = list(rng.permutation(40))
        relevant = int(rng.integers(40))
        top = ranking[:10]
        y_true = np.array([[1.0 if d == relevant else 0.0 for d in top]])
        y_score = np.array([np.arange(10, 0, -1, dtype=float)])
        theirs = sk.ndcg_score(y_true, y_score, k=10) if y_true.any() else 0.0
        assert ndcg_at_k(ranking, {relevant: 1.0}) == pytest.approx(theirs)


def _authors_ndcg(sk, grades: np.ndarray, scores: np.ndarray, k: int = 10) -> float:
    """MixBench's retrieval_mixbench.py: topk by score, then sklearn on those k only."""
    top = np.argsort(-scores, kind="stable")[:k]
    return float(sk.ndcg_score([grades[top]], [scores[top]], k=k))


def test_ndcg_with_ties_and_grades_equals_the_authors_sklearn_call() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    for _ in range(300):
        n = int(rng.integers(11, 40))
        scores = rng.integers(0, 6, n).astype(float) / 5  # coarse: many ties, also across rank 10
        grades = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), 0).astype(float)
        ranking = list(np.argsort(-scores, kind="stable"))
        qrels = {int(d): g for d, g in enumerate(grades) if g > 0}
        ours = ndcg_at_k(ranking, qrels, k=10, scores=list(scores[ranking]))
        assert ours == pytest.approx(_authors_ndcg(sk, grades, scores), abs=1e-12)


def test_tied_scores_share_their_gain() -> None:
    # relevant doc tied with the document above it: the gain is split over ranks 1 and 2
    value = ndcg_at_k(["x", "a", "y"], {"a": 1.0}, k=10, scores=[0.5, 0.5, 0.1])
    assert value == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert ndcg_at_k(["x", "a", "y"], {"a": 1.0}, k=10) == pytest.approx(1 / math.log2(3))


def test_recall_and_mrr_hand_cases() -> None:
    ranking = ["x", "a", "y", "b"]
    qrels = {"a": 1.0, "b": 1.0, "c": 1.0}
    assert recall_at_k(ranking, qrels, 1) == 0.0
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 10) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranking, qrels) == 0.5
    assert reciprocal_rank(["x", "y"], qrels) == 0.0
    assert recall_at_k(["a"], {"a": 0.0}, 1) == 0.0  # grade 0 is judged irrelevant


def test_evaluate_rankings_breaks_down_by_relevant_modality() -> None:
    modality = {"t": 0, "i": 1, "m": 2, "t2": 0}
    rankings = [["t", "i", "m"], ["t", "t2", "i"], ["m", "t", "i"]]
    qrels = [{"t": 1.0}, {"i": 1.0}, {"m": 1.0}]
    result = evaluate_rankings(rankings, qrels, modality, k=2)
    assert result["n_queries"] == 3
    assert result["recall@1"] == pytest.approx(2 / 3)
    assert result["mrr"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    by = result["by_modality"]
    assert by["text"]["n_queries"] == 1 and by["text"]["ndcg@2"] == 1.0
    assert by["image"]["ndcg@2"] == 0.0  # rank 3, outside the top 2
    assert by["image+text"]["recall@1"] == 1.0
    # top-2 slots: t,i | t,t2 | m,t -> 4 text, 1 image, 1 image+text of 6
    assert result["top2_share"] == pytest.approx(
        {"text": 4 / 6, "image": 1 / 6, "image+text": 1 / 6}
    )


def test_topk_shares_accept_an_index_array() -> None:
    shares = topk_modality_shares([[0, 1], [2, 0]], np.array([0, 1, 2]), k=2)
    assert shares == pytest.approx({"text": 0.5, "image": 0.25, "image+text": 0.25})


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 rankings but qrels for 1"):
        evaluate_rankings([[0], [1]], [{0: 1.0}])
