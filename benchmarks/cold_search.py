"""Cold `mixsearch search`: a fresh process per query, as a shell user runs it.

    python benchmarks/cold_search.py --store STORE [--runs 7] [--image FILE]

The file cache is warmed by one untimed run first ("cold" means a new process: imports, store
open, model load, one query). Each run is timed end to end (process start to exit), with no
thread variables in the environment: once as the CLI chooses by itself (`QUERY_THREADS`, 1) and
once with ``--threads 2`` (alternating, so machine load affects both alike). The faster setting
should be the CLI's default. ``--image FILE`` times image queries instead (the image model
loads: torch, EfficientNet-lite0). Goal (issue 11): <= 3 s for a text query.
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
SETTINGS = {"default_1_thread": [], "threads_2": ["--threads", "2"]}


def timed_search(store: Path, query: str | Path, flags: list[str]) -> float:
    from mixsearch.cli.threads import THREAD_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    what = ["--image", str(query)] if isinstance(query, Path) else [query]
    cmd = [sys.executable, "-m", "mixsearch", "search", str(store), *what, "-k", "10", "--json"]
    cmd += flags
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
    p.add_argument("--image", type=Path, default=None, help="time image queries with FILE")
    p.add_argument("--out", type=Path, default=C.REPO_ROOT / "benchmarks/out/cold_search.json")
    args = p.parse_args(argv)
    queries: list[str | Path] = [args.image] if args.image else list(QUERIES)
    timed_search(args.store, args.image or "warm the file cache", [])
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for run in range(args.runs):
        for name, flags in SETTINGS.items():
            seconds[name].append(timed_search(args.store, queries[run % len(queries)], flags))
    rows = {
        name: {
            "median_s": round(statistics.median(s), 3),
            "min_s": round(min(s), 3),
            "max_s": round(max(s), 3),
        }
        for name, s in seconds.items()
    }
    result = {
        "benchmark": "cold_search",
        "machine": C.machine_info(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "store": str(args.store),
        "query": str(args.image) if args.image else "text",
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
