"""What `Store.vectors_for` (exact re-scoring's read) costs with its presence check.

Builds a Flat store of ``--n`` documents (``--dim``), removes every 10th, then times, interleaved
call by call on the same random sets of ``--ids`` present FAISS ids:

* ``gather``: the vector-file rows alone (what `vectors_for` read before it checked presence);
* ``sqlite``: `db.present_ids` (one ``SELECT … IN json_each``) then the rows: the check a
  reader makes until its id bitmap pays off, and after another process commits;
* ``vectors_for``: the call itself, with the loaded generation's id bitmap warm.

    .venv/bin/python benchmarks/vectors_for.py --n 100000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixsearch.documents import DocRecord, Modality  # noqa: E402
from mixsearch.store import Store, db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--ids", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vectors_for_"))
    try:
        store = _build(folder / "store", args.n, args.dim)
        for n_ids in args.ids:
            _time(store, n_ids, args.calls)
        store.close()
    finally:
        shutil.rmtree(folder)


def _build(path: Path, n: int, dim: int) -> Store:
    vectors = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [DocRecord(f"d{i}", Modality.TEXT, None, None, {}, "") for i in range(n)]
    with Store.create(path, dim=dim, index_spec="Flat") as store:
        store.add(records, vectors)
        store.remove([f"d{i}" for i in range(0, n, 10)])
    return Store.open(path, readonly=True)


def _time(store: Store, n_ids: int, calls: int) -> None:
    rng = np.random.default_rng(n_ids)
    present = store.all_ids()
    rows = store._commits.vectors.rows  # the read under the check
    ways = {
        "gather": rows,
        "sqlite": lambda ids: rows(db.present_ids(store._conn, ids)),
        "vectors_for": store.vectors_for,
    }
    for _ in range(200):  # warm the page cache and the id bitmap (ski rental: ~100 checks)
        store.vectors_for(np.sort(rng.choice(present, n_ids, replace=False)))
    spent: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for call in range(calls):
        ids = np.sort(rng.choice(present, n_ids, replace=False))
        for name in names[call % 3 :] + names[: call % 3]:  # each goes first as often
            way = ways[name]
            t0 = time.perf_counter()
            way(ids)
            spent[name].append(time.perf_counter() - t0)
    figures = ", ".join(f"{name} {np.median(s) * 1e6:.0f} µs" for name, s in spent.items())
    print(f"{n_ids} ids of {len(present)} documents (median of {calls}): {figures}")


if __name__ == "__main__":
    main()
