"""Which λ each cross-validation objective picks, against the mixed ranking it produces on new data.

Synthetic CLIP-like modalities (`mixsearch.align.synthetic.ModalityGapSpaces`: a modality gap,
per-modality structured variance, a rotation between the content subspaces), 512-d. For each of
``--splits`` independent fit sets of ``--fit-pairs`` pairs, `auto` is fitted twice — λ chosen by
the mixed-ranking objective (the default) and by pair retrieval — and every λ of the grid is also
applied directly; each map then ranks a fresh mixed corpus (text, image and image+text documents
1:1:1, queries a second text rendering of each item) exactly as `bench embeddings` does
(`mixsearch.fusion`, cosine, MixBench nDCG@10). The table is the issue-10 table's synthetic
counterpart: test nDCG@10 per λ, and how often each objective chose it.

    python benchmarks/objective_synthetic.py [--splits 5] [--fit-pairs 250] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mixsearch.align import DEFAULT_LAMBDAS, fit_alignment  # noqa: E402
from mixsearch.align.crossval import lambda_key  # noqa: E402
from mixsearch.align.fit import alignment_from_stats  # noqa: E402
from mixsearch.align.retrieval import normalize_rows  # noqa: E402
from mixsearch.align.stats import PairStats  # noqa: E402
from mixsearch.align.synthetic import ModalityGapSpaces  # noqa: E402
from mixsearch.align.threads import one_blas_thread  # noqa: E402
from mixsearch.eval.metrics import ndcg_at_k  # noqa: E402
from mixsearch.fusion import document_vectors, query_vectors  # noqa: E402


def test_ndcg(alignment: Any, corpus: dict[str, np.ndarray]) -> float:
    docs = document_vectors(corpus["text"], corpus["image"], corpus["modality"], alignment, 0.5)
    sims = query_vectors(corpus["queries"], alignment) @ docs.T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    return float(np.mean([ndcg_at_k(list(row), {i: 1.0}) for i, row in enumerate(top)]))


def make_corpus(spaces: ModalityGapSpaces, n: int, seed: int) -> dict[str, np.ndarray]:
    image, (text, queries) = spaces.sample(n, seed=seed, text_views=2)
    return {"image": image, "text": text, "queries": queries, "modality": np.arange(n) % 3}


def run(splits: int, fit_pairs: int, n_test: int, dim: int) -> dict[str, Any]:
    spaces = ModalityGapSpaces.create(dim, seed=0)
    corpus = make_corpus(spaces, n_test, seed=1000)
    per_lambda: dict[str, list[float]] = {lambda_key(lam): [] for lam in DEFAULT_LAMBDAS}
    chosen: dict[str, Counter] = {"mixed": Counter(), "pairs": Counter()}
    auto_scores: dict[str, list[float]] = {"mixed": [], "pairs": []}
    for split in range(splits):
        x, (y,) = spaces.sample(fit_pairs, seed=split + 1)
        stats = PairStats.of(normalize_rows(x.astype(np.float64)), normalize_rows(y.astype(float)))
        for lam in DEFAULT_LAMBDAS:
            fixed = alignment_from_stats(stats, "auto", lambda_=lam)
            per_lambda[lambda_key(lam)].append(test_ndcg(fixed, corpus))
        for objective in chosen:
            fitted = fit_alignment(x, y, "auto", objective=objective)
            assert fitted.lambda_ is not None
            chosen[objective][lambda_key(fitted.lambda_)] += 1
            auto_scores[objective].append(test_ndcg(fitted, corpus))
    return {
        "splits": splits,
        "fit_pairs": fit_pairs,
        "n_test_docs": n_test,
        "dim": dim,
        "test_ndcg_by_lambda": {k: float(np.mean(v)) for k, v in per_lambda.items()},
        "chosen_by": {k: dict(v) for k, v in chosen.items()},
        "auto_test_ndcg": {k: float(np.mean(v)) for k, v in auto_scores.items()},
    }


def render(result: dict[str, Any]) -> str:
    keys = list(result["test_ndcg_by_lambda"])
    lines = [
        "| λ | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
        "| test mixed nDCG@10 | "
        + " | ".join(f"{result['test_ndcg_by_lambda'][k]:.3f}" for k in keys)
        + " |",
    ]
    for objective, counts in result["chosen_by"].items():
        cells = [str(counts.get(k, "")) for k in keys]
        lines.append(f"| chosen by {objective} CV (of {result['splits']}) | " + " | ".join(cells))
    auto = result["auto_test_ndcg"]
    lines.append(
        f"\n`auto` test nDCG@10: {auto['mixed']:.3f} with the mixed objective, "
        f"{auto['pairs']:.3f} with pair retrieval; plain centering (λ = inf) "
        f"{result['test_ndcg_by_lambda']['inf']:.3f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--fit-pairs", type=int, default=250)
    parser.add_argument("--test-docs", type=int, default=600)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with one_blas_thread():
        result = run(args.splits, args.fit_pairs, args.test_docs, args.dim)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
