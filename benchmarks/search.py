"""Search speed and recall: the engine's own search call against the raw FAISS call, per index type.

For a synthetic CLIP-like corpus (see `_common`) this builds one vector-only engine per index type
(``Engine.create(encoder=None)`` + ``add_vectors``) and measures, on the same index and queries:

* build time (engine ``add_vectors``: FAISS train + add + SQLite), bytes per vector of the index;
* recall@10 against exact search (``faiss.knn``) for the raw FAISS call and for the engine;
* QPS at batch 1 and batch 256, p50/p99 latency at batch 1 — engine and raw calls interleaved
  query by query (alternating which goes first), so machine noise hits both alike;
* the engine/raw latency ratio (p50), and where it is missed, which stage costs the difference
  (the pieces of `Engine.search_vectors` timed one by one);
* a ``modality=image`` search through the engine: its recall@10 against exact search over the
  image documents, its p50 against the unfiltered engine search (interleaved), and the plan the
  store's planner chose.

ANN indexes are searched with the parameters ``tune_search_params`` picks for recall@10 ≥ 0.95
(``auto`` = the store's own index choice, then tuned). Goals, printed PASS/MISS:
engine/raw p50 ratio ≤ 1.3 at k=10 (≤ 1.1 from 1M documents); a ``modality=image`` search at
≤ 3× the unfiltered one with filtered recall@10 ≥ 0.95; an ANN index with recall@10 ≥ 0.95 at
≥ 20× the exact (Flat) batch-1 QPS; ``auto`` is such an index.

    .venv/bin/python benchmarks/search.py --quick                # 100k docs, a few minutes
    .venv/bin/python benchmarks/search.py --n 1000000 --json benchmarks/out/search_1m.json
"""

from __future__ import annotations

import argparse
import gc
import math
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
RATIO_GOAL = 1.3  # engine/raw p50 below 1M documents
RATIO_GOAL_1M = 1.1  # from 1M, where FAISS itself takes longer
FILTER_COST_GOAL = 3.0  # modality=image p50 over unfiltered p50
FILTER_MODALITY = "image"
IMAGE_CODE = 1
SPEEDUP_GOAL = 20.0
# A single query uses one FAISS thread anyway (FAISS parallelises over queries); pinning OpenMP
# to one thread for batch-1 timing avoids its barrier spinning on a shared, oversubscribed machine.
LATENCY_THREADS = 1
LOAD_COMMIT_ROWS = 200_000
EXACT_LATENCY_QUERIES = 100  # documents per store commit while loading (bounds memory)


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
    p.add_argument(
        "--corpus",
        default=None,
        help="a corpus of your own instead of the synthetic one: a folder of vectors.npy, "
        "modality.npy, queries.npy and optionally tune.npy (benchmarks/_common.py CORPUS_FILES); "
        "--n and --dim are then its own",
    )
    p.add_argument("--clusters", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="where stores are built (default: a temp dir)")
    p.add_argument("--no-engine", action="store_true", help="raw FAISS only (no store/engine)")
    p.add_argument(
        "--tune-queries",
        type=int,
        default=200,
        help="tune nprobe/efSearch on this many sample queries, drawn apart from the measured "
        "ones (0: on held-out queries made from the corpus, the tuner's default)",
    )
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
    nlist = max(1, min(nlist, 2 ** int(math.log2(max(1, n // 39)))))
    return spec.replace("{nlist}", str(nlist))


# ---------------------------------------------------------------------- engine access
class Target:
    """The index under test: the engine's search call and the raw FAISS call on its index.

    With the engine, the documents are loaded once (``add_vectors``: SQLite rows + a Flat index)
    and each index type is then built by the store's own rebuild from the stored rows, so a 1M
    corpus is written to SQLite only once. Without it (``--no-engine``) the index is built with
    the store's `build_index` from the vectors in memory.
    """

    def __init__(self, dim: int, workdir: Path, use_engine: bool) -> None:
        self.tune_queries: np.ndarray | None = None  # sample queries for the tuner, if any
        self.dim = dim
        self.dir = workdir / "store"
        self.use_engine = use_engine
        self.engine: Any = None
        self.index: Any = None
        self.params: dict[str, Any] = {}
        self.search_parameters: Any = None
        self.spec = ""
        self.alignment = "none"

    def load(self, vectors: np.ndarray, modality: np.ndarray) -> dict[str, float]:
        """Load all documents into a fresh engine (Flat index); seconds spent."""
        from mixsearch.align import Alignment
        from mixsearch.engine import Engine
        from mixsearch.errors import MixsearchError

        shutil.rmtree(self.dir, ignore_errors=True)
        # An identity alignment still runs the engine's query-side transform (float64 centring),
        # so its cost is part of what is measured, while recall stays comparable to exact search.
        try:
            self.engine = Engine.create(
                self.dir,
                encoder=None,
                dim=self.dim,
                index="Flat",
                alignment=Alignment.identity(self.dim),
            )
            self.alignment = "identity (query-side transform runs)"
        except MixsearchError as err:
            C.log(f"engine refused an identity alignment ({err}); measuring without one")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.engine = Engine.create(
                self.dir, encoder=None, dim=self.dim, index="Flat", alignment=None
            )
            self.alignment = f"none (engine refused identity: {err})"
        ids = [f"d{i}" for i in range(len(vectors))]
        t0 = time.perf_counter()
        report = self.engine.add_vectors(ids, vectors, modality, commit_every=LOAD_COMMIT_ROWS)
        return {
            "load_s": time.perf_counter() - t0,
            **{f"load_{k}_s": v for k, v in report.timings.items()},
        }

    def build(self, spec: str, vectors: np.ndarray | None) -> float:
        """Seconds to make ``spec`` the searchable index (train + add)."""
        t0 = time.perf_counter()
        if self.use_engine:
            store = self.engine.store
            if resolved_spec(store) != spec:  # the Flat index of the load is used as it is
                rebuild_store_index(store, spec)
            self.index = store.index
            self.spec = resolved_spec(store)
            # A long-lived reader loads the hit table at once (a one-shot search would load it
            # only once SQLite lookups had cost as much); absent before issue 14's thin engine.
            warm = getattr(store, "warm", None)
            if warm is not None:
                warm()
        else:
            from mixsearch.store import index_spec as spec_mod

            assert vectors is not None
            self.spec = spec_mod.resolve_spec(
                spec, len(vectors), self.dim, spec_mod.DEFAULT_MEMORY_BUDGET
            )
            self.index = spec_mod.build_index(self.spec, self.dim, vectors).index
            self.index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        return time.perf_counter() - t0

    def tune(self) -> dict[str, Any]:
        """Search parameters for recall@10 ≥ TARGET_RECALL, by the project's own tuner."""
        from mixsearch.store import index_spec as spec_mod

        self.params = {}
        info: dict[str, Any] = {}
        if self.use_engine:
            from mixsearch.tune import tune_search_params

            if self.tune_queries is None:
                info = tune_search_params(self.engine.store, target_recall=TARGET_RECALL, k=K)
            else:
                info = self.engine.tune(TARGET_RECALL, K, queries=self.tune_queries)
            self.params = dict(info["params"])
        else:
            self.params = spec_mod.default_search_params(index_traits(self.index))
        self.search_parameters = spec_mod.faiss_search_parameters(
            index_traits(self.index), self.params, K, None
        )
        return {k: v for k, v in info.items() if k != "curve"}

    def raw(self, q: np.ndarray) -> np.ndarray:
        """The raw FAISS call: ``index.search`` with the same search parameters object."""
        return self.index.search(q, K, params=self.search_parameters)[1]

    def engine_search(self, q: np.ndarray) -> list[list[Any]]:
        return self.engine.search_vectors(q, K)

    def engine_filtered(self, q: np.ndarray) -> list[list[Any]]:
        return self.engine.search_vectors(q, K, modality=FILTER_MODALITY)

    def filter_plan(self) -> dict[str, Any]:
        try:
            from mixsearch.rank import filter_plan
        except ImportError:  # a version before the planner (measuring a "before")
            return {"method": "no planner", "params": {}}
        store = self.engine.store
        return filter_plan(store, store.resolve_filter(modality=FILTER_MODALITY), K).to_dict()

    def filter_partitions(self) -> dict[str, Any] | None:
        """What the store's filter partitions hold (graph stores; absent before them)."""
        return getattr(self.engine.store, "filter_partitions", None)

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


def index_traits(index: Any) -> Any:
    """What the store's search-parameter helpers take: cached `IndexTraits` of the index."""
    from mixsearch.store import index_spec as spec_mod

    return spec_mod.IndexTraits.of(index)


def resolved_spec(store: Any) -> str | None:
    """The store's resolved index spec (manifest keys changed once; accept both layouts)."""
    manifest = store.manifest
    if "index_spec_resolved" in manifest:
        return manifest["index_spec_resolved"]
    return manifest["index_spec"]["resolved"]


def rebuild_store_index(store: Any, spec: str) -> None:
    """Switch a loaded store to another index spec, rebuilt from its stored rows."""
    store.rebuild(spec)


def hit_ids(results: list[list[Any]]) -> np.ndarray:
    """Engine hits → integer document numbers (doc ids are ``d<i>``), padded with -1."""
    out = np.full((len(results), K), -1, dtype=np.int64)
    for row, hits in enumerate(results):
        for col, hit in enumerate(hits[:K]):
            out[row, col] = int(str(hit.doc_id)[1:])
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


def measure_filtered(
    target: Target, queries: np.ndarray, truth: np.ndarray, n_latency: int
) -> dict[str, Any]:
    """``modality=image`` through the engine: recall against exact search over the image
    documents, and p50 against the unfiltered engine search, interleaved query by query."""
    found = hit_ids(target.engine_filtered(queries))
    filtered_s: list[float] = []
    plain_s: list[float] = []
    target.engine_filtered(queries[:5])  # the first call resolves the filter: not timed
    for i, q in enumerate(queries[:n_latency]):
        one = q[None]
        calls = [(target.engine_filtered, filtered_s), (target.engine_search, plain_s)]
        for call, times in calls if i % 2 == 0 else calls[::-1]:
            t0 = time.perf_counter()
            call(one)
            times.append(time.perf_counter() - t0)
    filtered, plain = latency_summary(filtered_s), latency_summary(plain_s)
    return {
        "modality": FILTER_MODALITY,
        "recall": C.recall_at_k(found, truth),
        "p50_ms": filtered["p50_ms"],
        "p99_ms": filtered["p99_ms"],
        "unfiltered_p50_ms": plain["p50_ms"],
        "cost_ratio": filtered["p50_ms"] / plain["p50_ms"],
        "plan": target.filter_plan(),
        "partitions": target.filter_partitions(),
    }


def stage_breakdown(target: Target, queries: np.ndarray) -> dict[str, float]:
    """Median µs per batch-1 query of each stage of the engine's search, timed piece by piece.

    The pieces are the calls `Engine.search_vectors` makes for an unfiltered search, in order:
    the alignment's query-side transform + normalise (`Engine._query_side`), the FAISS search
    with its wrapper (`Store.search`), and the hits (`Store.hits`: the in-memory table's
    freshness check, doc ids and `Hit` objects). ``faiss_raw`` is the bare ``index.search``.
    Each piece is timed right after the one before it, so its caches are warmer than in a
    search of its own: the pieces add up to less than ``engine_total``.
    """
    store, engine = target.engine.store, target.engine
    query_side = getattr(engine, "_query_side", None)
    if query_side is None:  # a version before it (measuring a "before")
        from mixsearch.fusion import query_vectors

        def query_side(q: np.ndarray) -> np.ndarray:
            return query_vectors(q, engine.alignment)

    names = ("align+normalise", "faiss (Store.search)", "hits", "faiss_raw", "engine_total")
    stages: dict[str, list[float]] = {k: [] for k in names}
    for q in queries:
        one = q[None]
        t0 = time.perf_counter()
        qv = query_side(one)  # the engine's own query-side transform + normalise
        t1 = time.perf_counter()
        scores, ids = store.search(qv, K)
        t2 = time.perf_counter()
        resolve_hits(store, scores, ids)
        t3 = time.perf_counter()
        target.raw(one)
        t4 = time.perf_counter()
        target.engine_search(one)
        t5 = time.perf_counter()
        for key, seconds in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            stages[key].append(seconds)
    return {k: round(float(np.median(v)) * 1e6, 1) for k, v in stages.items()}


def resolve_hits(store: Any, scores: np.ndarray, ids: np.ndarray) -> list[list[Any]]:
    """FAISS results → hits as the engine makes them: `Store.hits`, or `rank.hits_for` in a
    version before it (measuring a "before")."""
    hits = getattr(store, "hits", None)
    if hits is not None:
        return hits(scores, ids)
    from mixsearch.rank import hits_for

    return hits_for(store, scores, ids)


def measure(
    target: Target,
    spec: str,
    vectors: np.ndarray | None,
    queries: np.ndarray,
    truth: np.ndarray,
    n_latency: int,
    filtered_truth: np.ndarray | None = None,
) -> dict[str, Any]:
    C.log(f"[{spec}] building ...")
    build_s = target.build(spec, vectors)
    C.log(f"[{spec}] built as {target.spec} in {build_s:.1f}s; tuning ...")
    tuning = target.tune()
    n_docs = target.index.ntotal
    row: dict[str, Any] = {
        "index": spec,
        "spec": target.spec,
        "params": target.params,
        "tuning": tuning,
        "build_s": build_s,
        "bytes_per_vector": target.memory_bytes() / n_docs,
    }
    table = getattr(target.engine.store, "hit_table", None) if target.engine else None
    if table is not None:
        row["hit_table_bytes_per_doc"] = table.nbytes / max(len(table), 1)
        row["hit_table_load_s"] = table.load_s
    row["recall_raw"] = C.recall_at_k(target.raw(queries), truth)
    row["qps_batch256_raw"] = C.timed_qps(target.raw, queries, 256)
    if target.engine is not None:
        row["recall_engine"] = C.recall_at_k(hit_ids(target.engine_search(queries)), truth)
        row["qps_batch256_engine"] = C.timed_qps(target.engine_search, queries, 256)
    C.log(f"[{spec}] latency, {n_latency} queries one by one ({LATENCY_THREADS} FAISS thread) ...")
    import faiss

    threads = faiss.omp_get_max_threads()
    C.set_faiss_threads(LATENCY_THREADS)
    try:
        target.raw(queries[:5])  # warm caches before timing
        if target.spec.startswith("Flat"):
            # Exact search costs ~0.1 s per query at 1M: fewer queries give a stable p50 already.
            n_latency = min(n_latency, EXACT_LATENCY_QUERIES)
        row["latency"] = interleaved_latency(target, queries[:n_latency])
        row["latency"]["queries"] = n_latency
        if target.engine is not None:
            row["stages_us"] = stage_breakdown(target, queries[: min(n_latency, 200)])
            if filtered_truth is not None:
                row["filtered"] = measure_filtered(target, queries, filtered_truth, n_latency)
    finally:
        C.set_faiss_threads(threads)
    return row


# ---------------------------------------------------------------------- goals and output
def evaluate_goals(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    flat = next((r for r in rows if r["spec"].startswith("Flat")), None)
    exact_qps = flat["latency"]["raw"]["qps_batch1"] if flat else None
    goals = []
    ratio_goal = RATIO_GOAL_1M if n >= 1_000_000 else RATIO_GOAL
    for r in rows:
        ratio = r["latency"].get("ratio_p50")
        if ratio is not None:
            goals.append(
                {
                    "goal": f"engine/raw p50 latency ≤ {ratio_goal} at k=10 ({r['index']}, n={n})",
                    "value": round(ratio, 3),
                    "pass": ratio <= ratio_goal,
                }
            )
        flt = r.get("filtered")
        if flt is not None and not r["spec"].startswith("Flat"):
            goals.append(
                {
                    "goal": f"modality={flt['modality']} p50 ≤ {FILTER_COST_GOAL}× unfiltered, "
                    f"filtered recall@10 ≥ {TARGET_RECALL} ({r['index']}, n={n})",
                    "value": f"{flt['cost_ratio']:.2f}×, recall {flt['recall']:.3f} "
                    f"({plan_text(flt['plan'])})",
                    "pass": flt["cost_ratio"] <= FILTER_COST_GOAL
                    and flt["recall"] >= TARGET_RECALL,
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


def plan_text(plan: dict[str, Any]) -> str:
    if plan["method"] == "partition":
        return f"partition nprobe={plan['partition']['nprobe']}/{plan['partition']['nlist']}"
    return f"{plan['method']} {plan['params']}"


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
    missed_ratio = any(not g["pass"] for g in result["goals"] if "latency" in g["goal"])
    filtered = [
        [r["index"], *filtered_cells(r["filtered"])] for r in result["indexes"] if r.get("filtered")
    ]
    if filtered:
        lines.append(
            f"\nmodality={FILTER_MODALITY} through the engine (p50 interleaved with unfiltered):"
        )
        lines.append(
            C.fmt_table(
                filtered, ["index", "recall@10", "p50 ms", "unfiltered p50 ms", "ratio", "plan"]
            )
        )
    if missed_ratio or result.get("show_stages"):
        lines.append(
            "\nengine search stages, median µs per batch-1 query (Engine.search_vectors pieces):"
        )
        stage_rows = [
            [r["index"], *r["stages_us"].values()] for r in result["indexes"] if "stages_us" in r
        ]
        if stage_rows:
            keys = list(next(r["stages_us"] for r in result["indexes"] if "stages_us" in r))
            lines.append(C.fmt_table(stage_rows, ["index", *keys]))
    tables = [r for r in result["indexes"] if "hit_table_bytes_per_doc" in r]
    for r in tables:
        lines.append(
            f"hit table ({r['index']}): {r['hit_table_bytes_per_doc']:.0f} bytes per document, "
            f"loaded in {r['hit_table_load_s']:.2f} s"
        )
    return "\n".join(lines)


def filtered_cells(flt: dict[str, Any]) -> list[Any]:
    plan = flt["plan"]
    params = ",".join(f"{k}={v}" for k, v in plan["params"].items()) or "-"
    if plan["method"] == "partition":
        part = plan["partition"]
        params = (
            f"{part['documents']} docs, nlist={part['nlist']}, nprobe={part['nprobe']}, "
            f"{part['codes']}, {part['bytes'] / 1e6:.1f} MB, built in {part['build_s']:.2f} s"
        )
    return [
        flt["recall"],
        flt["p50_ms"],
        flt["unfiltered_p50_ms"],
        flt["cost_ratio"],
        f"{plan['method']} {params}",
    ]


def exact_filtered_truth(
    queries: np.ndarray, vectors: np.ndarray, modality: np.ndarray
) -> np.ndarray:
    """Exact top-k document numbers among the FILTER_MODALITY documents."""
    import faiss

    allowed = np.flatnonzero(modality == IMAGE_CODE)
    found = faiss.knn(queries, vectors[allowed], K, metric=faiss.METRIC_INNER_PRODUCT)[1]
    return allowed[found]


def corpus(
    args: argparse.Namespace, threads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(documents, modality codes, measured queries, tuning queries or None): the --corpus
    folder's (args.n and args.dim then become its own), or a synthetic corpus of args.n."""
    if args.corpus:
        arrays = C.load_corpus(args.corpus)
        args.n, args.dim = arrays["vectors"].shape
        queries = arrays["queries"][: args.queries] if args.queries else arrays["queries"]
        tune = arrays.get("tune") if args.tune_queries else None
        C.log(
            f"corpus {args.corpus}: {args.n} x {args.dim}, {len(queries)} queries, "
            f"tuning on {'its tune.npy' if tune is not None else 'held-out documents'}; "
            f"FAISS threads = {threads}"
        )
        return arrays["vectors"], arrays["modality"], queries, tune
    n_queries = args.queries or (300 if args.quick else 1000)
    C.log(
        f"generating {args.n} x {args.dim} documents, {n_queries} queries; "
        f"FAISS threads = {threads}"
    )
    geometry = C.make_geometry(args.dim, args.clusters, args.seed)
    vectors, modality = C.make_documents(geometry, args.n, args.seed)
    queries = C.make_queries(geometry, vectors, modality, n_queries, args.seed + 1)
    tune = None
    if args.tune_queries:  # a separate sample, as a query log would give
        tune = C.make_queries(geometry, vectors, modality, args.tune_queries, args.seed + 2)
    return vectors, modality, queries, tune


def run(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    threads = C.set_faiss_threads(args.threads)
    if not args.no_engine:
        # Import the project's modules now: a long run then uses one consistent snapshot of them.
        import mixsearch.engine
        import mixsearch.rank
        import mixsearch.tune  # noqa: F401
    vectors, modality, queries, tune_queries = corpus(args, threads)
    n_queries = len(queries)
    n_latency = min(args.latency_queries or (200 if args.quick else 500), n_queries)
    specs = dedupe_auto(
        [expand_spec(s, args.n) for s in parse_specs(args.indexes, args.quick)], args
    )
    t0 = time.perf_counter()
    truth = faiss.knn(queries, vectors, K, metric=faiss.METRIC_INNER_PRODUCT)[1]
    filtered_truth = None if args.no_engine else exact_filtered_truth(queries, vectors, modality)
    C.log(f"exact ground truth in {time.perf_counter() - t0:.1f}s")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mixsearch-bench-"))
    target = Target(args.dim, workdir, not args.no_engine)
    target.tune_queries = tune_queries
    load: dict[str, float] = {}
    rows = []
    try:
        if target.use_engine:
            C.log(f"loading {args.n} documents into the engine (SQLite + Flat) ...")
            load = target.load(vectors, modality)
            C.log(f"loaded in {load['load_s']:.1f}s")
            del vectors  # the store holds them now; keep the machine's memory for the indexes
            vectors = None  # type: ignore[assignment]
            gc.collect()
        for spec in specs:
            rows.append(measure(target, spec, vectors, queries, truth, n_latency, filtered_truth))
            if args.json_out:  # partial results survive a long run being stopped
                C.write_json(
                    args.json_out, {"partial": True, "n": args.n, "load": load, "indexes": rows}
                )
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
        "faiss_threads_batch1": LATENCY_THREADS,
        "engine": not args.no_engine,
        "tuned_on": f"{args.tune_queries} sample queries" if args.tune_queries else "corpus",
        "machine": C.machine_info(),
        "corpus": (
            {"folder": str(args.corpus)}
            if args.corpus
            else {
                "clusters": args.clusters,
                "seed": args.seed,
                "generator": "benchmarks/_common.py",
            }
        ),
        "load": load,
        "alignment": target.alignment,
        "indexes": rows,
    }
    result["goals"] = evaluate_goals(rows, args.n)
    return result


def dedupe_auto(specs: list[str], args: argparse.Namespace) -> list[str]:
    """Measure an explicit spec that ``auto`` resolves to only once (as ``auto``): at 1M an extra
    HNSW build costs minutes."""
    if "auto" not in specs:
        return specs
    from mixsearch.store import index_spec as spec_mod

    chosen = spec_mod.choose_index_spec(args.n, args.dim)
    if chosen in specs:
        C.log(f"auto resolves to {chosen} at n={args.n}: measured once, as 'auto'")
    return [s for s in specs if s != chosen]


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
    if part.startswith(("RFlat", "Refine", "efC")):  # efC<N>: the store's HNSW option
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
