"""Bytes on disk per vector: a mixsearch store (format 2: every vector kept once, in the vector
file) against the raw FAISS index of the same kind, and whether searches survive the reopen.

    python benchmarks/disk.py --n 100000 --specs Flat,HNSW32 --json benchmarks/out/disk_100k.json

The corpus and the document rows are those of `search.py` (synthetic CLIP-like vectors, dim 512,
seed 0, loaded through `Engine.add_vectors`: doc_id, modality, no text). "raw FAISS" is
``faiss.write_index`` of the store's own loaded index (IDMap2 wrapper included). The searches of
the store just built are compared with those of the store reopened from disk (graph-only HNSW
checkpoint + vector file; Flat filled from the vector file): ids must be identical, and recall@10
against exact search is printed for both.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from _common import fmt_table, log, make_documents, make_geometry, make_queries, write_json

K = 10
PARAMS = {"efSearch": 64}


def measure(spec: str, n: int, work: Path) -> dict[str, Any]:
    from mixsearch.engine import Engine

    geometry = make_geometry()
    vectors, modality = make_documents(geometry, n)
    queries = make_queries(geometry, vectors, modality, 200)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :K]
    path = work / spec
    shutil.rmtree(path, ignore_errors=True)
    log(f"{spec}: building {n} vectors")
    engine = Engine.create(path, encoder=None, dim=vectors.shape[1], index=spec, alignment=None)
    engine.add_vectors([f"d{i}" for i in range(n)], vectors, modality)
    store = engine.store
    raw = int(faiss.serialize_index(store.index).nbytes)
    built = store.search(queries, K, params=PARAMS)[1]
    engine.close()
    with Engine.open(path, readonly=True) as reopened:
        after = reopened.store.search(queries, K, params=PARAMS)[1]
    files = {f.name: f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}
    total = sum(files.values())
    return {
        "spec": spec,
        "n": n,
        "raw_faiss_bytes": raw,
        "store_bytes": total,
        "files": files,
        "ratio": total / raw,
        "identical_after_reopen": bool((built == after).all()),
        "recall_built": _recall(built, truth),
        "recall_reopened": _recall(after, truth),
    }


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--specs", default="Flat,HNSW32")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mixsearch-disk-"))
    rows = [measure(spec, args.n, work) for spec in args.specs.split(",")]
    header = [
        "index",
        "raw FAISS B/vec",
        "store B/vec",
        "store / raw",
        "files (B/vec)",
        "same ids after reopen",
        "recall@10",
    ]
    table = [
        [
            r["spec"],
            f"{r['raw_faiss_bytes'] / r['n']:.0f}",
            f"{r['store_bytes'] / r['n']:.0f}",
            f"{r['ratio']:.3f}",
            ", ".join(f"{k} {v / r['n']:.0f}" for k, v in r["files"].items() if v),
            r["identical_after_reopen"],
            f"{r['recall_built']:.3f} / {r['recall_reopened']:.3f}",
        ]
        for r in rows
    ]
    print(fmt_table(table, header))
    if args.json:
        write_json(args.json, {"rows": rows})
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
