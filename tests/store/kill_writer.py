"""Writer for the kill test: continues adding deterministic batches to an existing store.

Usage: python kill_writer.py STORE N_BATCHES BATCH_SIZE SEED
Prints "ready M" once the store is open (M = batches already committed), then the number of each
batch after `Store.add` returned (i.e. after it was committed).
"""

from __future__ import annotations

import sys

import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.store import Store


def batch(b: int, size: int, dim: int, seed: int) -> tuple[list[DocRecord], np.ndarray]:
    rng = np.random.default_rng([seed, b])
    vectors = rng.normal(size=(size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        DocRecord(f"b{b}-{j}", Modality(j % 3), f"batch {b} doc {j}", None, {"b": b}, f"h{b}-{j}")
        for j in range(size)
    ]
    return records, vectors


def main() -> int:
    path, n_batches, size, seed = sys.argv[1], *map(int, sys.argv[2:5])
    store = Store.open(path)
    done = len(store) // size
    print("ready", done, flush=True)
    for b in range(done, n_batches):
        store.add(*batch(b, size, store.dim, seed))
        print(b, flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
