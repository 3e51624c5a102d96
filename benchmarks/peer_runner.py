"""One peer vector store measured on the corpus `peers.py` wrote: run inside that peer's own venv.

Needs only numpy, faiss-cpu and the peer's package (never mixsearch). Reads ``DATA/*.npy`` and the
reference FAISS index ``DATA/reference.faiss`` (raw FAISS HNSW, tuned by `peers.py`), then:

1. builds the peer's index from the corpus (timed) and measures its files on disk;
2. tunes the peer's search breadth (ef, where it has one) on the *tuning* queries: the smallest
   value of a ladder reaching the target recall@10, unfiltered and with the ``modality=image``
   filter separately;
3. measures on the *evaluation* queries: recall@10, batch-1 latency p50/p99 interleaved query by
   query with the reference FAISS search (order alternating, so load hits both alike) and
   QPS at batch 64; the same filtered (where the peer can filter). A peer marked ``slow``
   (seconds a query: an exact scan in Python) is measured on the first ``--slow-queries`` only.

Writes one JSON object to ``--out``. Peers: hnswlib, usearch, chroma, qdrant, milvus, lancedb.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

K = 10
IMAGE = 1
EF_LADDER = (10, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
BATCH = 64
ADD_BATCH = 5000


# ---------------------------------------------------------------------- peers
class Peer:
    """A peer's build, knob and search; subclasses fill in the library calls."""

    knob: str | None = "ef"
    filters = True
    slow = False  # seconds per query at 100k: measured on the first --slow-queries queries only

    def __init__(self, dim: int, folder: Path) -> None:
        self.dim = dim
        self.folder = folder

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        raise NotImplementedError

    def set_knob(self, value: int) -> None:
        pass

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        raise NotImplementedError

    def search_batch(self, queries: np.ndarray, image_only: bool) -> list[list[int]]:
        return [self.search(q, image_only) for q in queries]

    def disk_bytes(self) -> int:
        return folder_bytes(self.folder)


class Hnswlib(Peer):
    M, EF_CONSTRUCTION = 16, 200

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(len(vectors), ef_construction=self.EF_CONSTRUCTION, M=self.M)
        self.index.add_items(vectors, np.arange(len(vectors)), num_threads=2)
        self.index.save_index(str(self.folder / "hnswlib.bin"))
        self.is_image = modality == IMAGE

    def set_knob(self, value: int) -> None:
        self.index.set_ef(value)

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        is_image = self.is_image
        kwargs: dict[str, Any] = {"filter": lambda i: bool(is_image[i])} if image_only else {}
        labels, _ = self.index.knn_query(q[None], k=K, num_threads=1, **kwargs)
        return labels[0].tolist()


class Usearch(Peer):
    filters = False  # no predicate search in the Python API used here

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        from usearch.index import Index

        self.index = Index(ndim=self.dim, metric="ip", dtype="f32", connectivity=16)
        self.index.add(np.arange(len(vectors)), vectors, threads=2)
        self.index.save(str(self.folder / "usearch.bin"))

    def set_knob(self, value: int) -> None:
        self.index.expansion_search = value

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        return [int(x) for x in self.index.search(q, K, threads=1).keys]


class Chroma(Peer):
    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(self.folder))
        self.col = self.client.create_collection(
            "bench", metadata={"hnsw:space": "ip", "hnsw:construction_ef": 200, "hnsw:M": 16}
        )
        for start in range(0, len(vectors), ADD_BATCH):
            stop = min(start + ADD_BATCH, len(vectors))
            self.col.add(
                ids=[str(i) for i in range(start, stop)],
                embeddings=vectors[start:stop],
                metadatas=[{"modality": int(m)} for m in modality[start:stop]],
            )

    def set_knob(self, value: int) -> None:
        try:
            self.col.modify(configuration={"hnsw": {"ef_search": value}})
        except Exception:  # older API: collection metadata
            self.col.modify(metadata={"hnsw:search_ef": value})

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        where = {"modality": IMAGE} if image_only else None
        out = self.col.query(query_embeddings=[q], n_results=K, where=where, include=[])
        return [int(i) for i in out["ids"][0]]


class Qdrant(Peer):
    knob = None  # local mode scans exactly
    slow = True  # the payload filter is checked point by point in Python: seconds a query

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        from qdrant_client import QdrantClient, models

        self.models = models
        self.client = QdrantClient(path=str(self.folder))
        self.client.create_collection(
            "bench",
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.DOT),
        )
        for start in range(0, len(vectors), ADD_BATCH):
            stop = min(start + ADD_BATCH, len(vectors))
            self.client.upload_collection(
                "bench",
                vectors=vectors[start:stop],
                payload=[{"modality": int(m)} for m in modality[start:stop]],
                ids=list(range(start, stop)),
            )

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        m = self.models
        flt = None
        if image_only:
            flt = m.Filter(must=[m.FieldCondition(key="modality", match=m.MatchValue(value=IMAGE))])
        res = self.client.query_points("bench", query=q.tolist(), limit=K, query_filter=flt)
        return [int(p.id) for p in res.points]


class Milvus(Peer):
    M, EF_CONSTRUCTION = 16, 200

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        from pymilvus import DataType, MilvusClient

        # The Lite server keeps gRPC's default ping policy (one ping per 5 min without data),
        # so pymilvus's 10 s keepalive gets the connection closed during the minutes-long
        # create_index call; the client then retries into "index already exists". No pings.
        no_pings = {"grpc.keepalive_time_ms": 2**31 - 1}
        self.client = MilvusClient(str(self.folder / "milvus.db"), grpc_options=no_pings)
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("modality", DataType.INT64)
        self.client.create_collection("bench", schema=schema)
        for start in range(0, len(vectors), ADD_BATCH):
            stop = min(start + ADD_BATCH, len(vectors))
            self.client.insert(
                "bench",
                [
                    {"id": i, "vector": vectors[i].tolist(), "modality": int(modality[i])}
                    for i in range(start, stop)
                ],
            )
        # Seal the write buffer into segments (searches scan the buffer), then index them: an
        # index made before the inserts is built by a background thread after each flush, and
        # the searches would start before it ends; create_index on sealed segments builds inline.
        self.client.flush("bench")
        index = self.client.prepare_index_params()
        params = {"M": self.M, "efConstruction": self.EF_CONSTRUCTION}
        index.add_index("vector", index_type="HNSW", metric_type="IP", params=params)
        self.client.create_index("bench", index)
        self.client.load_collection("bench")
        self.ef = 64

    def set_knob(self, value: int) -> None:
        self.ef = value

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        kwargs: dict[str, Any] = {"filter": f"modality == {IMAGE}"} if image_only else {}
        res = self.client.search(
            "bench",
            data=[q.tolist()],
            limit=K,
            search_params={"metric_type": "IP", "params": {"ef": max(self.ef, K)}},
            **kwargs,
        )
        return [int(hit["id"]) for hit in res[0]]


class Lancedb(Peer):
    knob = None  # flat scan (no ANN index built): exact

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> None:
        import lancedb
        import pyarrow as pa

        self.db = lancedb.connect(str(self.folder))
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "id": pa.array(np.arange(len(vectors))),
                "modality": pa.array(modality.astype(np.int32)),
                "vector": pa.FixedSizeListArray.from_arrays(flat, self.dim),
            }
        )
        self.table = self.db.create_table("bench", data=table)

    def search(self, q: np.ndarray, image_only: bool) -> list[int]:
        query = self.table.search(q).metric("dot").limit(K).select(["id"])
        if image_only:
            query = query.where(f"modality = {IMAGE}", prefilter=True)
        return [int(r["id"]) for r in query.to_list()]


PEERS: dict[str, type[Peer]] = {
    "hnswlib": Hnswlib,
    "usearch": Usearch,
    "chroma": Chroma,
    "qdrant": Qdrant,
    "milvus": Milvus,
    "lancedb": Lancedb,
}


# ---------------------------------------------------------------------- measuring
def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def recall_at_k(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / float(truth.size)


def tune(peer: Peer, queries: np.ndarray, truth: np.ndarray, target: float, image: bool) -> Any:
    """Smallest knob value reaching ``target`` on the tuning queries (the largest if none)."""
    if peer.knob is None:
        return None
    for value in EF_LADDER:
        peer.set_knob(value)
        if recall_at_k(peer.search_batch(queries, image), truth) >= target:
            return value
    return EF_LADDER[-1]


def interleaved(peer: Peer, reference: Any, queries: np.ndarray, image: bool) -> dict[str, float]:
    """Batch-1 p50/p99 of the peer and of the reference FAISS search, alternating order."""
    peer_s: list[float] = []
    ref_s: list[float] = []
    for i, q in enumerate(queries):
        for which in ("peer", "ref") if i % 2 == 0 else ("ref", "peer"):
            t0 = time.perf_counter()
            if which == "peer":
                peer.search(q, image)
                peer_s.append(time.perf_counter() - t0)
            else:
                reference(q[None])
                ref_s.append(time.perf_counter() - t0)
    return {
        "p50_ms": float(np.percentile(peer_s, 50) * 1e3),
        "p99_ms": float(np.percentile(peer_s, 99) * 1e3),
        "faiss_p50_ms": float(np.percentile(ref_s, 50) * 1e3),
        "ratio_to_faiss": float(np.percentile(peer_s, 50) / np.percentile(ref_s, 50)),
    }


def qps_batch(peer: Peer, queries: np.ndarray, image: bool) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(queries), BATCH):
        peer.search_batch(queries[start : start + BATCH], image)
    return len(queries) / (time.perf_counter() - t0)


def reference_search(data: Path) -> Any:
    index = faiss.read_index(str(data / "reference.faiss"))
    params = json.loads((data / "reference.json").read_text())
    sp = faiss.SearchParametersHNSW()
    sp.efSearch = int(params["efSearch"])
    return lambda q: index.search(q, K, params=sp)


def log(started: float, message: str) -> None:
    """Progress with elapsed seconds on stderr (peers.py keeps the last line of a failed run)."""
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)


def run(name: str, data: Path, work: Path, target: float, slow_queries: int) -> dict[str, Any]:
    faiss.omp_set_num_threads(1)
    load = {f: np.load(data / f"{f}.npy") for f in ("vectors", "modality", "tune", "queries")}
    truths = {f: np.load(data / f"{f}.npy") for f in ("tune_truth", "tune_truth_image")}
    truths.update({f: np.load(data / f"{f}.npy") for f in ("truth", "truth_image")})
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    peer = PEERS[name](load["vectors"].shape[1], work)
    t0 = time.perf_counter()
    log(t0, f"{name}: building on {len(load['vectors'])} vectors")
    peer.build(load["vectors"], load["modality"])
    out: dict[str, Any] = {"peer": name, "build_s": time.perf_counter() - t0}
    log(t0, "built")
    out["disk_bytes"] = peer.disk_bytes()
    reference = reference_search(data)
    measured = slow_queries if peer.slow else len(load["queries"])
    queries = load["queries"][:measured]
    out["queries"] = len(queries)
    for label, image in (("unfiltered", False), ("filtered", True)):
        if image and not peer.filters:
            out[label] = None
            continue
        knob = tune(
            peer, load["tune"], truths["tune_truth_image" if image else "tune_truth"], target, image
        )
        log(t0, f"{label}: tuned {peer.knob}={knob}")
        if knob is not None:
            peer.set_knob(knob)
        found = peer.search_batch(queries, image)
        log(t0, f"{label}: recall pass")
        out[label] = {
            "knob": {peer.knob: knob} if knob is not None else {},
            "recall": recall_at_k(found, truths["truth_image" if image else "truth"][:measured]),
            **interleaved(peer, reference, queries, image),
        }
        log(t0, f"{label}: interleaved latency")
        out[label]["qps_batch64"] = qps_batch(peer, queries, image)
        log(t0, f"{label}: batch QPS")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", required=True, choices=sorted(PEERS))
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--slow-queries", type=int, default=50, help="evaluation queries for slow (exact) peers"
    )
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result = run(args.peer, args.data, args.work, args.target, args.slow_queries)
    versions = {}
    for module in ("numpy", "faiss"):
        versions[module] = getattr(sys.modules.get(module), "__version__", "?")
    result["versions"] = versions
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
