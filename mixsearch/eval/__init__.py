"""Evaluation: ranking metrics, the precomputed-embedding benchmark, MixBench, model upgrades.

Imports are lazy so that ``import mixsearch.eval.metrics`` stays numpy-only.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "evaluate_rankings": "mixsearch.eval.metrics",
    "ndcg_at_k": "mixsearch.eval.metrics",
    "recall_at_k": "mixsearch.eval.metrics",
    "reciprocal_rank": "mixsearch.eval.metrics",
    "EmbeddingSet": "mixsearch.eval.embeddings",
    "load_embeddings_dir": "mixsearch.eval.embeddings",
    "save_embeddings_dir": "mixsearch.eval.embeddings",
    "run_embeddings_benchmark": "mixsearch.eval.embeddings",
    "MixBenchSubset": "mixsearch.eval.mixbench",
    "load_mixbench": "mixsearch.eval.mixbench",
    "load_fit_data": "mixsearch.eval.mixbench",
    "run_mixbench": "mixsearch.eval.mixbench",
    "run_upgrade_benchmark": "mixsearch.eval.upgrade",
    "write_report": "mixsearch.eval.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mixsearch.eval' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
