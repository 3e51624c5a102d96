"""Writer for the kill test: continues a deterministic sequence of commits on an existing store.

Usage: python kill_writer.py STORE N_BATCHES BATCH_SIZE SEED
    adds batches M, M + 1, ... N_BATCHES - 1; prints "ready M" once the store is open (M = batches
    already committed), then the number of each batch after `Store.add` returned (i.e. after it
    was committed).

Usage: python kill_writer.py create STORE N_DOCS DIM SEED
    the first index of a new store through the engine, with an alignment (`create_and_fill`).

Usage: python kill_writer.py STORE N_STEPS CHUNK SEED MODE N_DOCS
    MODE is remove, upsert or compact, on a store made by `seed_store`. The store's contents after
    step t are a pure function of t (see `expected_versions`, `removed_ids`, `compact_specs`);
    prints "ready T" (T = steps already committed, read back from the store), then T after each
    step's commit returned.
      remove:  step t removes the t-th chunk of a seeded permutation of the documents.
      upsert:  step t replaces a seeded chunk of documents with version t (new text and vector).
      compact: odd step 2k-1 removes chunk k, even step 2k runs `compact(compact_specs(k)[0])`,
               which switches the index between Flat and HNSW32 or rebuilds it as it is.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

from mixsearch.documents import DocRecord, Modality
from mixsearch.store import Store

MODES = ("remove", "upsert", "compact")
COMPACT_CYCLE: tuple[str | None, ...] = ("HNSW32", None, "Flat", None)


def batch(b: int, size: int, dim: int, seed: int) -> tuple[list[DocRecord], np.ndarray]:
    rng = np.random.default_rng([seed, b])
    vectors = rng.normal(size=(size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        DocRecord(f"b{b}-{j}", Modality(j % 3), f"batch {b} doc {j}", None, {"b": b}, f"h{b}-{j}")
        for j in range(size)
    ]
    return records, vectors


# ---- remove / upsert / compact: the state after step t ------------------------------------


def doc_id(i: int) -> str:
    return f"d{i}"


@functools.lru_cache(maxsize=64)
def version_vectors(version: int, n_docs: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors of every document as written by step ``version`` (0 = as seeded)."""
    vectors = np.random.default_rng([seed, n_docs, dim, version]).normal(size=(n_docs, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.astype(np.float32)
    vectors.flags.writeable = False
    return vectors


def docs(ids, versions, n_docs: int, dim: int, seed: int) -> tuple[list[DocRecord], np.ndarray]:
    """Documents ``ids`` as written by steps ``versions``: their records and vectors."""
    ids, versions = np.asarray(ids, dtype=np.int64), np.asarray(versions, dtype=np.int64)
    vectors = np.empty((len(ids), dim), dtype=np.float32)
    for v in np.unique(versions):
        rows = versions == v
        vectors[rows] = version_vectors(int(v), n_docs, dim, seed)[ids[rows]]
    records = [
        DocRecord(doc_id(i), Modality(i % 3), f"doc {i} v{v}", None, {"v": v}, f"h{i}-{v}")
        for i, v in zip(ids.tolist(), versions.tolist(), strict=True)
    ]
    return records, vectors


def removal_order(n_docs: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, n_docs]).permutation(n_docs)


def removed_ids(k: int, n_docs: int, chunk: int, seed: int) -> np.ndarray:
    """Documents removed by the first k removal steps."""
    return removal_order(n_docs, seed)[: k * chunk]


def upsert_chunk(t: int, n_docs: int, chunk: int, seed: int) -> np.ndarray:
    """Documents replaced by upsert step t (t >= 1)."""
    return np.random.default_rng([seed, n_docs, t]).choice(n_docs, chunk, replace=False)


def expected_versions(t: int, n_docs: int, chunk: int, seed: int) -> np.ndarray:
    """Version of every document after upsert step t: the last step that replaced it."""
    versions = np.zeros(n_docs, dtype=np.int64)
    for s in range(1, t + 1):
        versions[upsert_chunk(s, n_docs, chunk, seed)] = s
    return versions


def compact_specs(k: int, initial: str = "Flat") -> tuple[str | None, str]:
    """(argument of the k-th compact, spec the store has after it); k = 0: as seeded."""
    spec = initial
    arg = None
    for j in range(k):
        arg = COMPACT_CYCLE[j % len(COMPACT_CYCLE)]
        spec = arg or spec
    return arg, spec


def removals_at(mode: str, t: int) -> int:
    """Chunks removed after step t."""
    return t if mode == "remove" else math.ceil(t / 2) if mode == "compact" else 0


def seed_store(
    path, mode: str, *, n_docs: int, dim: int, seed: int, spec: str, checkpoint_rows: int
) -> None:
    """A store holding version 0 of documents 0..n_docs-1: step 0 of ``mode``."""
    with Store.create(path, dim=dim, index_spec=spec, checkpoint_rows=checkpoint_rows) as store:
        store.add(*docs(range(n_docs), [0] * n_docs, n_docs, dim, seed))
        store.update_extra({"kill_mode": mode, "kill_base_generation": store.generation})


def committed_step(store: Store, mode: str, n_docs: int, chunk: int) -> int:
    """The step whose state the store holds, read back from the store."""
    if mode == "remove":
        gone, partial = divmod(n_docs - len(store), chunk)
        assert partial == 0, f"{len(store)} documents is not a whole number of removal steps"
        return gone
    if mode == "upsert":
        records = store.get([doc_id(i) for i in range(n_docs)])
        return max(r.metadata["v"] for r in records)
    return store.generation - store.manifest["extra"]["kill_base_generation"]


def run_steps(store: Store, mode: str, n_steps: int, chunk: int, n_docs: int, seed: int) -> None:
    start = committed_step(store, mode, n_docs, chunk)
    print("ready", start, flush=True)
    for t in range(start + 1, n_steps + 1):
        if mode == "upsert":
            ids = upsert_chunk(t, n_docs, chunk, seed)
            store.upsert(*docs(ids, [t] * len(ids), n_docs, store.dim, seed))
        elif mode == "remove" or t % 2:
            k = removals_at(mode, t)
            gone = removed_ids(k, n_docs, chunk, seed)[(k - 1) * chunk :]
            assert store.remove([doc_id(i) for i in gone]) == chunk
        else:
            store.compact(compact_specs(t // 2)[0])
        print(t, flush=True)


def main() -> int:
    path, n_batches, size, seed = sys.argv[1], *map(int, sys.argv[2:5])
    store = Store.open(path)
    if len(sys.argv) > 5:
        mode, n_docs = sys.argv[5], int(sys.argv[6])
        assert mode in MODES, mode
        run_steps(store, mode, n_batches, size, n_docs, seed)
        store.close()
        return 0
    done = len(store) // size
    print("ready", done, flush=True)
    for b in range(done, n_batches):
        store.add(*batch(b, size, store.dim, seed))
        print(b, flush=True)
    store.close()
    return 0


# ---- first index of a new store (engine: alignment + store creation + first commits) ---------


def creation_alignment(dim: int, seed: int):
    """The alignment the creation writer gives its new store (deterministic)."""
    from mixsearch.align import fit_alignment
    from mixsearch.align.synthetic import SyntheticSpaces

    source, target = SyntheticSpaces.create(dim, rank=4, seed=seed).sample(200, seed=seed)
    return fit_alignment(source, target, method="procrustes")


def create_and_fill(path: str, n_docs: int, dim: int, seed: int) -> int:
    """Create the store with `creation_alignment` (or add to it if a creation committed) and add
    documents 0..n_docs-1 in commits of 50; "interrupted" and status 3 on a half-made store."""
    from mixsearch.engine import Engine
    from mixsearch.errors import MixsearchError
    from mixsearch.store.layout import StoreState, store_state

    state = store_state(__import__("pathlib").Path(path))
    try:
        if state is StoreState.COMMITTED:
            engine = Engine.open(path)
        else:
            engine = Engine.create(
                path, encoder=None, dim=dim, index="Flat", alignment=creation_alignment(dim, seed)
            )
    except MixsearchError as err:
        print("refused", err, flush=True)
        return 3
    with engine:
        records, vectors = docs(range(n_docs), [0] * n_docs, n_docs, dim, seed)
        engine.add_vectors(
            [r.doc_id for r in records],
            vectors,
            np.array([int(r.modality) for r in records]),
            texts=[r.text for r in records],
            metadata=[r.metadata for r in records],
            commit_every=50,
        )
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["create"]:
        sys.exit(create_and_fill(sys.argv[2], *map(int, sys.argv[3:6])))
    sys.exit(main())
