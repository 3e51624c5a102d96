"""Search speed and recall: the engine's own search call against the raw FAISS call, per index type.

For a synthetic CLIP-like corpus (see `_common`) this builds one vector-only engine per index type
(``Engine.create(encoder=None)`` + ``add_vectors``) and measures, on the same index and queries:

* build time (engine ``add_vectors``: FAISS train + add + SQLite), bytes per vector of the index;
* recall@10 against exact search (``faiss.knn``) for the raw FAISS call and for the engine;
* QPS at batch 1 and batch 256, p50/p99 latency at batch 1 — engine and raw calls interleaved
  query by query (alternating which goes first), so machine noise hits both alike;
* the engine/raw latency ratio (p50), and where it is missed, which stage costs the difference
  (cProfile of the engine calls, grouped into alignment/normalise, FAISS, SQLite, ranking code).

ANN indexes are searched with the parameters ``tune_search_params`` picks for recall@10 ≥ 0.95
(``auto`` = the store's own index choice, then tuned). Goals, printed PASS/MISS:
engine/raw p50 ratio ≤ 1.10 at k=10; an ANN index with recall@10 ≥ 0.95 at ≥ 20× the exact
(Flat) batch-1 QPS; ``auto`` is such an index.

    .venv/bin/python benchmarks/search.py --quick                # 100k docs, a few minutes
    .venv/bin/python benchmarks/search.py --n 1000000 --json benchmarks/out/search_1m.json
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as C  # noqa: E402

K = 10
TARGET_RECALL = 0.95
RATIO_GOAL = 1.10
SPEEDUP_GOAL = 20.0


# ---------------------------------------------------------------------- arguments
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Engine vs raw FAISS search: build time, memory, recall@10, QPS, latency.",
    )
    p.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument(
        "--indexes",
        default=None,
        help="comma list of FAISS factory strings and/or 'auto'; {nlist} is replaced by "
        "~4*sqrt(n) (default: Flat,HNSW32,IVF{nlist},Flat,IVF{nlist},PQ64,auto; "
        "--quick: Flat,HNSW32,IVF{nlist},Flat,auto)",
    )
    p.add_argument("--quick", action="store_true", help="fewer queries and index types")
    p.add_argument(
        "--queries", type=int, default=None, help="evaluation queries (recall, batch 256)"
    )
    p.add_argument("--latency-queries", type=int, default=None, help="queries timed one by one")
    p.add_argument(
        "--threads", type=int, default=None, help="FAISS OpenMP threads (default: all cores)"
    )
    p.add_argument("--clusters", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="where stores are built (default: a temp dir)")
    p.add_argument("--no-engine", action="store_true", help="raw FAISS only (no store/engine)")
    p.add_argument("--json", dest="json_out", default=None, help="write all results to this file")
    return p.parse_args(argv)


def default_specs(quick: bool) -> list[str]:
    if quick:
        return ["Flat", "HNSW32", "IVF{nlist},Flat", "auto"]
    return ["Flat", "HNSW32", "IVF{nlist},Flat", "IVF{nlist},PQ64", "auto"]


def parse_specs(text: str | None, quick: bool) -> list[str]:
    if not text:
        return default_specs(quick)
    if ";" in text:
        return [s.strip() for s in text.split(";") if s.strip()]
    return merge_factory_commas([s.strip() for s in text.split(",") if s.strip()])


def expand_spec(spec: str, n: int) -> str:
    # IVF rule of thumb: nlist ~ 4*sqrt(n), a power of two, at least 39 training points per list.
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    nlist = max(16, min(nlist, n // 39))
    return spec.replace("{nlist}", str(nlist))


# ---------------------------------------------------------------------- engine access
class Target:
    """One index under test: the engine's search call and the raw FAISS call on its index."""

    def __init__(self, spec: str, dim: int, workdir: Path, use_engine: bool) -> None:
        self.requested = spec
        self.dim = dim
        self.dir = workdir / ("store_" + "".join(ch if ch.isalnum() else "_" for ch in spec))
        self.use_engine = use_engine
        self.engine: Any = None
        self.index: Any = None
        self.params: dict[str, Any] = {}
        self.spec = spec

    def build(self, vectors: np.ndarray, modality: np.ndarray) -> float:
        """Seconds to make the index searchable (engine: FAISS train/add and SQLite rows)."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        t0 = time.perf_counter()
        if self.use_engine:
            from mixsearch.engine import Engine

            self.engine = Engine.create(
                self.dir, encoder=None, dim=self.dim, index=self.requested, alignment=None
            )
            ids = [f"d{i}" for i in range(len(vectors))]
            self.engine.add_vectors(ids, vectors, modality)
            self.index = faiss_index_of(self.engine.store)
            self.spec = resolved_spec(self.engine.store, self.requested)
        else:
            self.index = build_raw_index(self.requested, vectors)
        return time.perf_counter() - t0

    def tune(self, n_docs: int) -> dict[str, Any]:
        if self.spec.startswith("Flat") or self.spec.startswith("IndexFlat"):
            return {}
        if self.use_engine:
            from mixsearch.tune import tune_search_params

            result = tune_search_params(self.engine.store, target_recall=TARGET_RECALL, k=K)
            params = dict(result.get("params", result)) if isinstance(result, dict) else {}
            params = {k: v for k, v in params.items() if isinstance(v, int | float)}
        else:
            params = {}
        self.params = params
        apply_params(self.index, params)
        return params

    def raw(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q, K)[1]

    def engine_search(self, q: np.ndarray) -> list[list[Any]]:
        return self.engine.search_vectors(q, K, params=self.params or None)

    def memory_bytes(self) -> int:
        import faiss

        return int(faiss.serialize_index(self.index).nbytes)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine = None
        self.index = None
        gc.collect()
        shutil.rmtree(self.dir, ignore_errors=True)


def faiss_index_of(store: Any) -> Any:
    """The FAISS index object behind a store (the raw call times ``index.search`` directly)."""
    for name in ("index", "_index", "faiss_index"):
        index = getattr(store, name, None)
        if index is not None and hasattr(index, "search"):
            return index
    raise RuntimeError("cannot find the store's FAISS index (looked for .index, ._index)")


def resolved_spec(store: Any, requested: str) -> str:
    manifest = getattr(store, "manifest", {}) or {}
    for key in ("index_spec", "resolved_index_spec", "index"):
        value = manifest.get(key)
        if isinstance(value, str) and value != "auto":
            return value
    return requested


def build_raw_index(spec: str, vectors: np.ndarray) -> Any:
    import faiss

    if spec == "auto":
        raise SystemExit("--no-engine cannot resolve 'auto' (that is the store's rule)")
    index = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(vectors[:: max(1, len(vectors) // 200_000)])
    index.add(vectors)
    return index


def apply_params(index: Any, params: dict[str, Any]) -> None:
    import faiss

    if params:
        text = ",".join(f"{k}={v}" for k, v in params.items())
        faiss.ParameterSpace().set_index_parameters(index, text)


def hit_ids(results: list[list[Any]]) -> np.ndarray:
    """Engine hits → integer document numbers (doc ids are ``d<i>``), padded with -1."""
    out = np.full((len(results), K), -1, dtype=np.int64)
    for row, hits in enumerate(results):
        for col, hit in enumerate(hits[:K]):
            out[row, col] = int(str(getattr(hit, "doc_id", hit)).lstrip("d"))
    return out


# ---------------------------------------------------------------------- measurements
def interleaved_latency(target: Target, queries: np.ndarray) -> dict[str, Any]:
    """Batch-1 latency of engine and raw calls, alternating which runs first for each query."""
    raw_s: list[float] = []
    eng_s: list[float] = []
    for i, q in enumerate(queries):
        one = q[None]
        order = ("raw", "engine") if i % 2 == 0 else ("engine", "raw")
        for name in order:
            if name == "raw":
                t0 = time.perf_counter()
                target.raw(one)
                raw_s.append(time.perf_counter() - t0)
            elif target.engine is not None:
                t0 = time.perf_counter()
                target.engine_search(one)
                eng_s.append(time.perf_counter() - t0)
    out: dict[str, Any] = {"raw": latency_summary(raw_s)}
    if eng_s:
        out["engine"] = latency_summary(eng_s)
        out["ratio_p50"] = out["engine"]["p50_ms"] / out["raw"]["p50_ms"]
        out["ratio_mean"] = float(np.mean(eng_s) / np.mean(raw_s))
    return out


def latency_summary(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": C.percentile_ms(seconds, 50),
        "p99_ms": C.percentile_ms(seconds, 99),
        "qps_batch1": len(seconds) / float(np.sum(seconds)),
    }


STAGES = (
    ("faiss", ("swigfaiss", "faiss/")),
    ("sqlite", ("sqlite3",)),
    ("align+normalise", ("fusion.py", "align/", "linalg")),
    ("numpy", ("numpy",)),
    ("rank", ("rank.py",)),
    ("store (python)", ("store/",)),
    ("engine (python)", ("engine.py",)),
)


def stage_breakdown(target: Target, queries: np.ndarray) -> dict[str, Any]:
    """cProfile the engine's batch-1 calls; own time per stage, in µs per query."""
    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries:
        target.engine_search(q[None])
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    per_stage: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        where = f"{filename}:{func}"
        stage = next((s for s, keys in STAGES if any(k in where for k in keys)), "other python")
        per_stage[stage] = per_stage.get(stage, 0.0) + tottime
    n = max(len(queries), 1)
    us = {k: round(v / n * 1e6, 1) for k, v in sorted(per_stage.items(), key=lambda kv: -kv[1])}
    top = pstats.Stats(profiler).sort_stats("tottime")
    top_rows = []
    for (filename, line, func), (_cc, ncalls, tottime, _ct, _c) in list(
        sorted(top.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    )[:12]:
        top_rows.append(
            {
                "function": f"{Path(filename).name}:{line}:{func}",
                "calls_per_query": ncalls / n,
                "us_per_query": round(tottime / n * 1e6, 1),
            }
        )
    return {
        "us_per_query_by_stage": us,
        "top_functions": top_rows,
        "note": "cProfile adds overhead per Python call; compare stages, not totals",
    }


def measure(
    target: Target,
    vectors: np.ndarray,
    modality: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    n_latency: int,
) -> dict[str, Any]:
    C.log(f"[{target.requested}] building ...")
    build_s = target.build(vectors, modality)
    C.log(f"[{target.requested}] built as {target.spec} in {build_s:.1f}s; tuning ...")
    params = target.tune(len(vectors))
    row: dict[str, Any] = {
        "index": target.requested,
        "spec": target.spec,
        "params": params,
        "build_s": build_s,
        "bytes_per_vector": target.memory_bytes() / len(vectors),
    }
    row["recall_raw"] = C.recall_at_k(target.raw(queries), truth)
    row["qps_batch256_raw"] = C.timed_qps(target.raw, queries, 256)
    if target.engine is not None:
        row["recall_engine"] = C.recall_at_k(hit_ids(target.engine_search(queries)), truth)
        row["qps_batch256_engine"] = C.timed_qps(target.engine_search, queries, 256)
    C.log(f"[{target.requested}] latency, {n_latency} queries one by one ...")
    target.raw(queries[:5])  # warm caches before timing
    row["latency"] = interleaved_latency(target, queries[:n_latency])
    if target.engine is not None:
        row["breakdown"] = stage_breakdown(target, queries[: min(n_latency, 200)])
    return row


# ---------------------------------------------------------------------- goals and output
def evaluate_goals(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    flat = next((r for r in rows if r["spec"].startswith("Flat")), None)
    exact_qps = flat["latency"]["raw"]["qps_batch1"] if flat else None
    goals = []
    for r in rows:
        ratio = r["latency"].get("ratio_p50")
        if ratio is not None:
            goals.append(
                {
                    "goal": f"engine/raw p50 latency ≤ {RATIO_GOAL} at k=10 ({r['index']}, n={n})",
                    "value": round(ratio, 3),
                    "pass": ratio <= RATIO_GOAL,
                }
            )
    if exact_qps:
        for r in rows:
            r["speedup_vs_exact"] = r["latency"]["raw"]["qps_batch1"] / exact_qps
        good = [r for r in rows if is_good_ann(r)]
        best = max(
            rows,
            key=lambda r: (
                r["speedup_vs_exact"] if r["recall_raw"] >= TARGET_RECALL and r is not flat else -1
            ),
        )
        goals.append(
            {
                "goal": f"an ANN index with recall@10 ≥ {TARGET_RECALL} at ≥ {SPEEDUP_GOAL:g}× exact batch-1 QPS",
                "value": f"{best['index']}: recall {best['recall_raw']:.3f}, {best['speedup_vs_exact']:.1f}×",
                "pass": bool(good),
            }
        )
        auto = next((r for r in rows if r["index"] == "auto"), None)
        if auto is not None:
            goals.append(
                {
                    "goal": "auto (after tune_search_params) is such an index",
                    "value": f"{auto['spec']} {auto['params']}: recall {auto['recall_raw']:.3f}, "
                    f"{auto['speedup_vs_exact']:.1f}×",
                    "pass": is_good_ann(auto),
                }
            )
    return goals


def is_good_ann(r: dict[str, Any]) -> bool:
    return (
        not r["spec"].startswith("Flat")
        and r["recall_raw"] >= TARGET_RECALL
        and r.get("speedup_vs_exact", 0) >= SPEEDUP_GOAL
    )


def render(result: dict[str, Any]) -> str:
    rows = []
    for r in result["indexes"]:
        lat = r["latency"]
        eng = lat.get("engine", {})
        rows.append(
            [
                r["index"],
                r["spec"],
                ",".join(f"{k}={v}" for k, v in r["params"].items()) or "-",
                round(r["build_s"], 1),
                round(r["bytes_per_vector"], 1),
                r["recall_raw"],
                r.get("recall_engine"),
                round(lat["raw"]["qps_batch1"]),
                round(eng["qps_batch1"]) if eng else None,
                round(r["qps_batch256_raw"]),
                round(r["qps_batch256_engine"]) if "qps_batch256_engine" in r else None,
                lat["raw"]["p50_ms"],
                lat["raw"]["p99_ms"],
                eng.get("p50_ms"),
                eng.get("p99_ms"),
                lat.get("ratio_p50"),
            ]
        )
    header = [
        "index",
        "spec",
        "params",
        "build_s",
        "B/vec",
        "R@10 raw",
        "R@10 eng",
        "QPS1 raw",
        "QPS1 eng",
        "QPS256 raw",
        "QPS256 eng",
        "p50 raw ms",
        "p99 raw ms",
        "p50 eng ms",
        "p99 eng ms",
        "eng/raw p50",
    ]
    lines = [C.fmt_table(rows, header), ""]
    for g in result["goals"]:
        lines.append(f"{'PASS' if g['pass'] else 'MISS'}  {g['goal']}: {g['value']}")
    for r in result["indexes"]:
        if "breakdown" in r and not all(
            g["pass"] for g in result["goals"] if r["index"] in g["goal"]
        ):
            lines.append(
                f"\nengine stages for {r['index']} (cProfile own time, µs/query): "
                + ", ".join(f"{k} {v}" for k, v in r["breakdown"]["us_per_query_by_stage"].items())
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    threads = C.set_faiss_threads(args.threads)
    n_queries = args.queries or (300 if args.quick else 1000)
    n_latency = min(args.latency_queries or (200 if args.quick else 500), n_queries)
    specs = parse_specs(args.indexes, args.quick)
    C.log(
        f"generating {args.n} x {args.dim} documents, {n_queries} queries; FAISS threads = {threads}"
    )
    geometry = C.make_geometry(args.dim, args.clusters, args.seed)
    vectors, modality = C.make_documents(geometry, args.n, args.seed)
    queries = C.make_queries(geometry, vectors, modality, n_queries, args.seed + 1)
    t0 = time.perf_counter()
    truth = faiss.knn(queries, vectors, K, metric=faiss.METRIC_INNER_PRODUCT)[1]
    C.log(f"exact ground truth in {time.perf_counter() - t0:.1f}s")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mixsearch-bench-"))
    rows = []
    for spec in specs:
        target = Target(expand_spec(spec, args.n), args.dim, workdir, not args.no_engine)
        if spec == "auto":
            target.requested = "auto"
        try:
            rows.append(measure(target, vectors, modality, queries, truth, n_latency))
        finally:
            target.close()
    result = {
        "benchmark": "search",
        "n": args.n,
        "dim": args.dim,
        "k": K,
        "queries": n_queries,
        "latency_queries": n_latency,
        "faiss_threads": threads,
        "engine": not args.no_engine,
        "machine": C.machine_info(),
        "corpus": {
            "clusters": args.clusters,
            "seed": args.seed,
            "generator": "benchmarks/_common.py",
        },
        "indexes": rows,
    }
    result["goals"] = evaluate_goals(rows, args.n)
    return result


def merge_factory_commas(parts: list[str]) -> list[str]:
    """'IVF1024,Flat' was split at its comma: glue factory pieces back into one spec.

    A piece joins the previous spec when that spec is still incomplete: a transform (OPQ, PCA)
    waits for an index, an IVF coarse quantizer for its codes (Flat, PQ, SQ), anything for a
    refinement (RFlat, Refine). ';' may separate specs instead, which needs no guessing.
    """
    merged: list[str] = []
    for part in parts:
        if merged and part != "auto" and merged[-1] != "auto" and _continues(merged[-1], part):
            merged[-1] += "," + part
        else:
            merged.append(part)
    return merged


def _continues(previous: str, part: str) -> bool:
    pieces = previous.split(",")
    while pieces and pieces[0].startswith(("OPQ", "PCA", "L2norm")):
        pieces = pieces[1:]
    if part.startswith(("RFlat", "Refine")):
        return True
    if not pieces:
        return True
    return (
        len(pieces) == 1 and pieces[0].startswith("IVF") and part.startswith(("Flat", "PQ", "SQ"))
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(render(result))
    if args.json_out:
        C.write_json(args.json_out, result)
        C.log(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
