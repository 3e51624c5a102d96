"""Search latency and memory against corpus size (10k, 100k, 1M documents) per index type.

Either runs `search.py`'s measurement at each size (``--sizes``), or tabulates JSON files that
`search.py --json` already wrote (``--from``), so the 1M run — long on 2 cores — is done once:

    .venv/bin/python benchmarks/scaling.py --sizes 10000,100000 --json benchmarks/out/scaling.json
    .venv/bin/python benchmarks/scaling.py --from benchmarks/out/search_10k.json \\
        benchmarks/out/search_100k.json benchmarks/out/search_1m.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
import search  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Search latency and memory per index type vs corpus size."
    )
    p.add_argument("--sizes", default="10000,100000", help="comma list of corpus sizes to run")
    p.add_argument(
        "--from",
        dest="from_files",
        nargs="+",
        default=None,
        help="tabulate these search.py --json outputs instead of running",
    )
    p.add_argument("--indexes", default=None, help="as search.py --indexes (default: --quick set)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--latency-queries", type=int, default=100)
    p.add_argument("--json", dest="json_out", default=None)
    return p.parse_args(argv)


def run_sizes(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        argv = [
            "--n",
            str(n),
            "--quick",
            "--queries",
            str(args.queries),
            "--latency-queries",
            str(args.latency_queries),
        ]
        if args.indexes:
            argv += ["--indexes", args.indexes]
        runs.append(search.run(search.parse_args(argv)))
    return runs


def table_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for run in sorted(runs, key=lambda r: r["n"]):
        for r in run["indexes"]:
            lat = r["latency"]
            rows.append(
                {
                    "n": run["n"],
                    "index": r["index"],
                    "spec": r["spec"],
                    "params": r["params"],
                    "bytes_per_vector": r["bytes_per_vector"],
                    "index_mb": r["bytes_per_vector"] * run["n"] / 2**20,
                    "recall_raw": r["recall_raw"],
                    "p50_raw_ms": lat["raw"]["p50_ms"],
                    "p99_raw_ms": lat["raw"]["p99_ms"],
                    "p50_engine_ms": lat.get("engine", {}).get("p50_ms"),
                    "p99_engine_ms": lat.get("engine", {}).get("p99_ms"),
                    "engine_over_raw_p50": lat.get("ratio_p50"),
                    "date_utc": run["machine"]["date_utc"],
                }
            )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    header = [
        "n",
        "index",
        "spec",
        "params",
        "B/vec",
        "index MB",
        "R@10",
        "p50 raw ms",
        "p99 raw ms",
        "p50 eng ms",
        "p99 eng ms",
        "eng/raw",
    ]
    cells = [
        [
            r["n"],
            r["index"],
            r["spec"],
            ",".join(f"{k}={v}" for k, v in r["params"].items()) or "-",
            round(r["bytes_per_vector"]),
            round(r["index_mb"], 1),
            r["recall_raw"],
            r["p50_raw_ms"],
            r["p99_raw_ms"],
            r["p50_engine_ms"],
            r["p99_engine_ms"],
            r["engine_over_raw_p50"],
        ]
        for r in rows
    ]
    return C.fmt_table(cells, header)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_files:
        runs = [json.loads(Path(f).read_text()) for f in args.from_files]
    else:
        runs = run_sizes(args)
    rows = table_rows(runs)
    print(render(rows))
    if args.json_out:
        C.write_json(
            args.json_out, {"benchmark": "scaling", "machine": C.machine_info(), "rows": rows}
        )
        C.log(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
