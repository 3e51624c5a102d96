"""Load a benchmark script (benchmarks/NAME.py, not a package) as a module for its smoke test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module
    spec.loader.exec_module(module)
    return module


def write_own_corpus(folder, n: int = 1500, dim: int = 48) -> None:
    """A corpus written as a user would: clustered float64 vectors, unnormalised."""
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(20, dim))
    docs = centers[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim))
    queries = centers[rng.integers(0, 20, 40)] + 0.5 * rng.normal(size=(40, dim))
    folder.mkdir()
    np.save(folder / "vectors.npy", docs)
    np.save(folder / "modality.npy", rng.integers(0, 3, n))
    np.save(folder / "queries.npy", queries)
    np.save(folder / "tune.npy", queries[::-1] + 0.1)
