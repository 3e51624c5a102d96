"""Cold `mixsearch search`: a fresh process per query, as a shell user runs it.

    python benchmarks/cold_search.py --store STORE [--runs 7]

The file cache is warmed by one untimed run first ("cold" means a new process: imports, store
open, model load, one query). Each run is timed end to end (process start to exit), with query
encoding on one and on two BLAS/OpenMP threads (alternating, so machine load affects both
alike); the faster setting is the one to use. Goal (issue 11): <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

QUERIES = ["a cat", "a man riding a horse", "galaxies in deep space", "an old clock"]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def timed_search(store: Path, query: str, threads: int) -> float:
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARS}}
    cmd = [sys.executable, "-m", "mixsearch", "search", str(store), query, "-k", "10", "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0 or not json.loads(done.stdout)["results"][0]["hits"]:
        raise SystemExit(f"search failed: {done.stderr.strip()}")
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--runs", type=int, default=7, help="timed runs per thread setting (7)")
    p.add_argument("--out", type=Path, default=C.REPO_ROOT / "benchmarks/out/cold_search.json")
    args = p.parse_args(argv)
    timed_search(args.store, "warm the file cache", 1)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for run in range(args.runs):
        for threads in (1, 2):
            seconds[threads].append(timed_search(args.store, QUERIES[run % len(QUERIES)], threads))
    rows = {
        f"{t}_thread{'s' if t > 1 else ''}": {
            "median_s": round(statistics.median(s), 3),
            "min_s": round(min(s), 3),
            "max_s": round(max(s), 3),
        }
        for t, s in seconds.items()
    }
    result = {
        "benchmark": "cold_search",
        "machine": C.machine_info(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "store": str(args.store),
        "runs": args.runs,
        "wall": rows,
        "goal_s": 3.0,
        "command": "python benchmarks/cold_search.py " + " ".join(argv or sys.argv[1:]),
    }
    C.write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
