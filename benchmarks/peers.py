"""mixsearch side by side with other vector stores on one corpus: recall, latency, QPS, build, disk.

One synthetic CLIP-like corpus (`_common`: D=512, clusters, modality gap, text queries), a
separate set of tuning queries, exact ground truth unfiltered and for ``modality=image``. Then:

* **mixsearch** (this checkout, vector-only `Engine`, HNSW32 and IVF,Flat): tuned with
  `Engine.tune` on the tuning queries; filtered searches go through the planner untuned;
  each measured interleaved with the raw FAISS call on the same index;
* **raw FAISS HNSW32** (the mixsearch HNSW index itself) is the *reference*: every peer process
  loads it and times it interleaved with its own searches, so each row carries a
  p50 ratio to the same FAISS search measured under the same load;
* **peers** (hnswlib, usearch, Chroma, Qdrant local mode, Milvus Lite, LanceDB), each in its own
  virtual environment created here with ``pip`` (``--venvs``; a peer that fails to install or
  to run is reported with its reason, never fatal), run by `peer_runner.py`: build, tune the
  peer's ef on the tuning queries (unfiltered and filtered separately), measure.

Not part of ``make test`` (it downloads packages and runs for a long time).

    .venv/bin/python benchmarks/peers.py --n 100000 --json benchmarks/out/peers_100k.json
    .venv/bin/python benchmarks/peers.py --n 20000 --peers hnswlib,lancedb   # a quick look
    # peers once (only the reference index is built), mixsearch rows later, one table:
    .venv/bin/python benchmarks/peers.py --skip-mixsearch --workdir W --json PEERS.json
    .venv/bin/python benchmarks/peers.py --peers '' --rows-from PEERS.json --json ALL.json
    # more peers later on the same corpus and reference index, joining the earlier rows:
    .venv/bin/python benchmarks/peers.py --skip-mixsearch --workdir W --reuse-reference \
        --peers milvus,qdrant --rows-from PEERS.json --json PEERS.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
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
IMAGE = 1
RUNNER = Path(__file__).resolve().parent / "peer_runner.py"
BASE_PACKAGES = ("numpy==2.4.6", "faiss-cpu==1.15.1")
PEER_PACKAGES = {
    "hnswlib": ("hnswlib==0.8.0",),
    "usearch": ("usearch==2.26.6",),
    "chroma": ("chromadb==1.5.9",),
    "qdrant": ("qdrant-client==1.20.0",),
    "milvus": ("pymilvus==3.0.2", "milvus-lite==3.2.2"),
    "lancedb": ("lancedb==0.40.0", "pyarrow"),
}
MIXSEARCH_SPECS = ("HNSW32", "IVF{nlist},Flat")
DEFAULT_VENVS = Path.home() / ".cache" / "mixsearch" / "peer-venvs"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="mixsearch vs raw FAISS and other vector stores.")
    p.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=300, help="evaluation queries")
    p.add_argument("--tune-queries", type=int, default=200, help="separate tuning queries")
    p.add_argument("--target", type=float, default=0.95, help="recall@10 to tune for")
    p.add_argument(
        "--peers",
        default=",".join(PEER_PACKAGES),
        help=f"comma list of peers (default all: {','.join(PEER_PACKAGES)}); '' for none",
    )
    p.add_argument("--venvs", type=Path, default=DEFAULT_VENVS, help="where peer venvs live")
    p.add_argument("--no-install", action="store_true", help="use existing peer venvs only")
    p.add_argument("--peer-timeout", type=int, default=3600, help="seconds per peer")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--corpus",
        default=None,
        help="a corpus of your own instead of the synthetic one: a folder of vectors.npy, "
        "modality.npy, queries.npy and tune.npy (benchmarks/_common.py CORPUS_FILES); --n, "
        "--dim, --queries and --tune-queries are then its own",
    )
    p.add_argument("--json", dest="json_out", default=None)
    p.add_argument(
        "--skip-mixsearch",
        action="store_true",
        help="measure the peers only: build just the reference (raw FAISS HNSW32, efSearch tuned "
        "on the tuning queries) instead of the mixsearch stores",
    )
    p.add_argument(
        "--rows-from",
        type=Path,
        action="append",
        default=[],
        help="an earlier run's --json: its rows for systems not measured now join the table "
        "(e.g. peers measured once, mixsearch rows after a change; each row's ratio is to FAISS "
        "timed in its own process); repeatable: a system in several files keeps the last one's",
    )
    p.add_argument(
        "--reuse-reference",
        action="store_true",
        help="keep WORKDIR/data/reference.faiss from an earlier --skip-mixsearch run on the same "
        "corpus (checked) instead of building it again; its row comes from --rows-from",
    )
    p.add_argument(
        "--slow-peer-queries",
        type=int,
        default=50,
        help="evaluation queries for peers that take seconds a query (Qdrant local mode's "
        "Python scan); the row and the table say how many",
    )
    args = p.parse_args(argv)
    if args.reuse_reference and (args.workdir is None or not args.rows_from):
        p.error("--reuse-reference needs --workdir (the earlier run's) and --rows-from")
    args.peer_list = [x.strip() for x in args.peers.split(",") if x.strip()]
    unknown = sorted(set(args.peer_list) - set(PEER_PACKAGES))
    if unknown:
        p.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEER_PACKAGES)}")
    return args


# ---------------------------------------------------------------------- corpus
def make_corpus(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Corpus, queries and exact truths (saved as .npy files in ``data`` for the runners)."""
    import faiss

    arrays = own_corpus(args) if args.corpus else synthetic_corpus(args)
    vectors, modality = arrays["vectors"], arrays["modality"]
    images = np.flatnonzero(modality == IMAGE)
    for name in ("queries", "tune"):
        prefix = "truth" if name == "queries" else "tune_truth"
        q = arrays[name]
        arrays[prefix] = faiss.knn(q, vectors, K, metric=faiss.METRIC_INNER_PRODUCT)[1]
        found = faiss.knn(q, vectors[images], K, metric=faiss.METRIC_INNER_PRODUCT)[1]
        arrays[f"{prefix}_image"] = images[found]
    return arrays


def synthetic_corpus(args: argparse.Namespace) -> dict[str, np.ndarray]:
    geometry = C.make_geometry(args.dim, 300, args.seed)
    vectors, modality = C.make_documents(geometry, args.n, args.seed)
    return {
        "vectors": vectors,
        "modality": modality,
        "queries": C.make_queries(geometry, vectors, modality, args.queries, args.seed + 1),
        "tune": C.make_queries(geometry, vectors, modality, args.tune_queries, args.seed + 2),
    }


def own_corpus(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """--corpus: its arrays, and args.n, dim, queries, tune_queries set to its sizes."""
    arrays = C.load_corpus(args.corpus)
    if "tune" not in arrays:
        raise SystemExit(
            f"{args.corpus}: no tune.npy — every system is tuned on queries apart from the "
            "measured ones"
        )
    args.n, args.dim = arrays["vectors"].shape
    args.queries, args.tune_queries = len(arrays["queries"]), len(arrays["tune"])
    return arrays


def save_corpus(arrays: dict[str, np.ndarray], data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(data / f"{name}.npy", array)


# ---------------------------------------------------------------------- mixsearch
def measure_mixsearch(args: argparse.Namespace, arrays: dict, data: Path, work: Path) -> list:
    """mixsearch rows (engine and raw FAISS per spec); writes the reference FAISS index."""
    import faiss
    import search as S

    target = S.Target(args.dim, work, use_engine=True)
    target.tune_queries = arrays["tune"]
    S.TARGET_RECALL = args.target
    rows = []
    try:
        C.log(f"mixsearch: loading {args.n} documents ...")
        load_s = target.load(arrays["vectors"], arrays["modality"])["load_s"]
        for spec in MIXSEARCH_SPECS:
            spec = S.expand_spec(spec, args.n)
            C.log(f"mixsearch: building {spec} ...")
            build_s = target.build(spec, None) + load_s
            target.tune()
            if spec.startswith("HNSW"):
                faiss.write_index(target.index, str(data / "reference.faiss"))
                (data / "reference.json").write_text(json.dumps(target.params))
            rows.extend(mixsearch_rows(target, spec, arrays, build_s))
    finally:
        target.close()
    return rows


def measure_reference(args: argparse.Namespace, arrays: dict, data: Path, work: Path) -> list:
    """Only the reference the peers are timed against: raw FAISS HNSW32 built by the store's
    own builder (same spec and efConstruction as mixsearch), efSearch the smallest of a ladder
    reaching the target recall on the tuning queries."""
    import faiss
    import peer_runner
    import search as S

    target = S.Target(args.dim, work, use_engine=False)
    C.log("reference: building raw FAISS HNSW32 ...")
    build_s = target.build("HNSW32", arrays["vectors"])
    faiss.omp_set_num_threads(1)
    for ef in peer_runner.EF_LADDER:  # the ladder the peers are tuned on
        target.params = {"efSearch": ef}
        target.search_parameters = faiss.SearchParametersHNSW(efSearch=ef)
        if C.recall_at_k(target.raw(arrays["tune"]), arrays["tune_truth"]) >= args.target:
            break
    faiss.write_index(target.index, str(data / "reference.faiss"))
    (data / "reference.json").write_text(json.dumps(target.params))
    queries = arrays["queries"]
    times = []
    for q in queries:
        t0 = time.perf_counter()
        target.raw(q[None])
        times.append(time.perf_counter() - t0)
    row = {
        "system": f"raw FAISS {target.spec} (reference)",
        "params": target.params,
        "build_s": build_s,
        "disk_bytes": (data / "reference.faiss").stat().st_size,
        "unfiltered": {
            "recall": C.recall_at_k(target.raw(queries), arrays["truth"]),
            "p50_ms": float(np.percentile(times, 50) * 1e3),
            "p99_ms": float(np.percentile(times, 99) * 1e3),
            "qps_batch64": C.timed_qps(target.raw, queries, 64),
        },
        "filtered": None,
    }
    return [row]


def check_reference(arrays: dict, data: Path) -> None:
    """--reuse-reference: the kept index must hold exactly this corpus (spot-checked vectors)."""
    import faiss

    path = data / "reference.faiss"
    index = faiss.read_index(str(path)) if path.is_file() else None
    vectors = arrays["vectors"]
    picks = (0, len(vectors) // 2, len(vectors) - 1)
    if (
        index is None
        or index.ntotal != len(vectors)
        or index.d != vectors.shape[1]
        or not all(np.array_equal(index.reconstruct(i), vectors[i]) for i in picks)
    ):
        raise SystemExit(f"{path}: missing or not built on this corpus (--n/--dim/--seed)")


def mixsearch_rows(target: Any, spec: str, arrays: dict, build_s: float) -> list[dict]:
    import faiss
    import search as S

    faiss.omp_set_num_threads(1)
    queries = arrays["queries"]
    engine_hits = S.hit_ids(target.engine_search(queries))
    lat = S.interleaved_latency(target, queries)
    store_bytes = sum(f.stat().st_size for f in target.dir.rglob("*") if f.is_file())
    raw_bytes = target.memory_bytes()
    filtered = S.measure_filtered(target, queries, arrays["truth_image"], len(queries))
    engine = {
        "system": f"mixsearch {spec}",
        "params": target.params,
        "build_s": build_s,
        "disk_bytes": store_bytes,
        "unfiltered": {
            "recall": C.recall_at_k(engine_hits, arrays["truth"]),
            "p50_ms": lat["engine"]["p50_ms"],
            "p99_ms": lat["engine"]["p99_ms"],
            "same_spec_faiss_p50_ms": lat["raw"]["p50_ms"],
            "qps_batch64": C.timed_qps(target.engine_search, queries, 64),
        },
        "filtered": {
            "recall": filtered["recall"],
            "p50_ms": filtered["p50_ms"],
            "p99_ms": filtered["p99_ms"],
            "knob": filtered["plan"],
        },
    }
    raw = {
        "system": f"raw FAISS {spec}",
        "params": target.params,
        "build_s": None,
        "disk_bytes": raw_bytes,
        "unfiltered": {
            "recall": C.recall_at_k(target.raw(queries), arrays["truth"]),
            "p50_ms": lat["raw"]["p50_ms"],
            "p99_ms": lat["raw"]["p99_ms"],
            "qps_batch64": C.timed_qps(target.raw, queries, 64),
        },
        "filtered": None,
    }
    return [engine, raw]


# ---------------------------------------------------------------------- peers
def ensure_venv(name: str, venvs: Path, install: bool) -> tuple[Path | None, str | None]:
    """The peer's venv python, creating and filling the venv with pip if needed."""
    folder = venvs / name
    python = folder / "bin" / "python"
    if (folder / ".ok").is_file():
        return python, None
    if not install:
        return None, f"no venv at {folder} (run without --no-install)"
    C.log(f"{name}: creating {folder} and installing {' '.join(PEER_PACKAGES[name])} ...")
    shutil.rmtree(folder, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(folder)],
        [str(python), "-m", "pip", "install", "-q", *BASE_PACKAGES, *PEER_PACKAGES[name]],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None, "install failed: " + last_line(done.stderr or done.stdout)
    (folder / ".ok").touch()
    return python, None


def run_peer(name: str, args: argparse.Namespace, data: Path, work: Path) -> dict[str, Any]:
    python, problem = ensure_venv(name, args.venvs, not args.no_install)
    if python is None:
        return {"system": name, "error": problem}
    out = work / f"{name}.json"
    cmd = [str(python), str(RUNNER), "--peer", name, "--data", str(data)]
    cmd += ["--work", str(work / name), "--target", str(args.target), "--out", str(out)]
    cmd += ["--slow-queries", str(args.slow_peer_queries)]
    progress = work / f"{name}.log"  # the runner's phases with elapsed seconds, to follow live
    C.log(f"{name}: building, tuning, measuring (progress in {progress}) ...")
    t0 = time.perf_counter()
    try:
        with progress.open("w") as log:
            done = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, timeout=args.peer_timeout, check=False
            )
    except subprocess.TimeoutExpired:
        reached = last_line(progress.read_text())
        return {"system": name, "error": f"timed out after {args.peer_timeout} s ({reached})"}
    finally:
        shutil.rmtree(work / name, ignore_errors=True)
    if done.returncode != 0:
        return {"system": name, "error": "run failed: " + last_line(progress.read_text())}
    result = json.loads(out.read_text())
    C.log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return {"system": name, "params": None, **result}


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


# ---------------------------------------------------------------------- output
def render(rows: list[dict], reference_p50: float | None, queries: int) -> str:
    header = ["system", "tuned", "R@10", "p50 ms", "p99 ms", "p50/FAISS", "QPS b64", "build s"]
    header += ["disk MB", "img R@10", "img p50 ms", "img tuned"]
    table = []
    for row in rows:
        if "error" in row:
            table.append([row["system"], row["error"], *[None] * (len(header) - 2)])
            continue
        u, f = row["unfiltered"], row.get("filtered")
        ratio = u.get("ratio_to_faiss")
        if ratio is None and reference_p50:
            ratio = u["p50_ms"] / reference_p50
        measured = row.get("queries", queries)
        table.append(
            [
                row["system"] + (f" ({measured} queries)" if measured < queries else ""),
                knob_text(u.get("knob", row.get("params"))),
                u["recall"],
                u["p50_ms"],
                u["p99_ms"],
                ratio,
                round(u["qps_batch64"]),
                None if row.get("build_s") is None else round(row["build_s"], 1),
                round(row["disk_bytes"] / 1e6, 1),
                f["recall"] if f else None,
                f["p50_ms"] if f else None,
                knob_text(f.get("knob")) if f else None,
            ]
        )
    return C.fmt_table(table, header)


def knob_text(knob: Any) -> str:
    if not knob:
        return "-"
    if "method" in knob:
        params = ",".join(f"{k}={v}" for k, v in knob["params"].items())
        return f"{knob['method']} {params}".strip()
    return ",".join(f"{k}={v}" for k, v in knob.items())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mixsearch-peers-"))
    data = work / "data"
    C.set_faiss_threads(None)
    arrays = make_corpus(args)
    C.log(f"corpus: {args.n} x {args.dim}, {args.queries} + {args.tune_queries} queries")
    if args.reuse_reference:
        check_reference(arrays, data)  # before the corpus files are replaced
    save_corpus(arrays, data)
    measure = measure_reference if args.skip_mixsearch else measure_mixsearch
    rows = [] if args.reuse_reference else measure(args, arrays, data, work / "mixsearch")
    measured = {r["system"] for r in rows} | set(args.peer_list)
    earlier = {}  # by system, in first-seen order; a later file's row replaces an earlier one
    for path in args.rows_from:
        earlier.update((r["system"], r) for r in json.loads(path.read_text())["rows"])
    rows = [r for system, r in earlier.items() if system not in measured] + rows
    reference = next(r for r in rows if r["system"].startswith("raw FAISS HNSW"))
    for name in args.peer_list:
        rows.append(run_peer(name, args, data, work))
        if args.json_out:
            C.write_json(args.json_out, {"partial": True, "rows": rows})
    result = {
        "benchmark": "peers",
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "tune_queries": args.tune_queries,
        "target_recall": args.target,
        "reference": "raw FAISS HNSW32 (the mixsearch HNSW index), interleaved in each process",
        "machine": C.machine_info(),
        "rows": rows,
    }
    print(render(rows, reference["unfiltered"]["p50_ms"], args.queries))
    if args.json_out:
        C.write_json(args.json_out, result)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
