"""What the open-time index check costs: loading a checkpoint with FAISS alone, against loading it
through the hashing reader that checks size, sha256 and vector count (`mixsearch.store.index_file`).

    python benchmarks/open_check.py --n 100000 --dim 384 --rounds 3

Both loads read the same file (warm page cache, alternated rounds); the ratio is what matters.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from mixsearch.store.index_file import read_index_file, write_index_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--spec", default="Flat", help="FAISS factory string (IDMap2 added)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    vectors = np.random.default_rng(0).normal(size=(args.n, args.dim)).astype(np.float32)
    index = faiss.index_factory(args.dim, f"IDMap2,{args.spec}", faiss.METRIC_INNER_PRODUCT)
    index.add_with_ids(vectors, np.arange(args.n, dtype=np.int64))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.1.faiss"
        record = write_index_file(index, path)
        plain, checked = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            faiss.read_index(str(path))
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            read_index_file(path, record, args.dim)
            checked.append(time.perf_counter() - t0)
    result = {
        "n": args.n,
        "dim": args.dim,
        "spec": args.spec,
        "file_mb": round(record["bytes"] / 1e6, 1),
        "faiss_read_s": round(float(np.median(plain)), 3),
        "checked_read_s": round(float(np.median(checked)), 3),
        "ratio": round(float(np.median(checked) / np.median(plain)), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
