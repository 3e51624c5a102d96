"""Benchmark: fit an alignment from two large memory-mapped .npy files (streaming, O(D²) memory).

    python benchmarks/align_fit.py --n 1000000 --dim 512 --json OUT.json

Writes N × D float32 source/target pairs (synthetic modalities, `mixsearch.align.synthetic`) to
temporary .npy files chunk by chunk, then runs the fit from the files in a *subprocess*, so the
reported time and peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process) cover
the fit alone, not the generation. Goal on the 2-core CI machine: under 60 s and under 1 GB RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

GEN_CHUNK_ROWS = 65_536
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.fit_only:
        return _fit_only(args)
    if args.generate_only:
        _generate(
            Path(args.generate_only[0]), Path(args.generate_only[1]), args.n, args.dim, args.seed
        )
        return 0
    with tempfile.TemporaryDirectory(prefix="align_fit_", dir=args.tmp) as tmp:
        source, target = Path(tmp) / "source.npy", Path(tmp) / "target.npy"
        t0 = time.perf_counter()
        # generation runs in its own process too: a child inherits its parent's peak RSS
        # (Linux copies the RSS high-water mark through fork and exec), so this process must
        # stay small for the fit's ru_maxrss to mean anything
        _run_self(
            [
                "--generate-only",
                str(source),
                str(target),
                "--n",
                str(args.n),
                "--dim",
                str(args.dim),
                "--seed",
                str(args.seed),
            ]
        )
        gen_s = time.perf_counter() - t0
        load_before = round(os.getloadavg()[0], 2)  # the CI machine is shared: say how busy
        fit = _fit_in_subprocess(source, target, args)
    result = {
        "n": args.n,
        "dim": args.dim,
        "method": args.method,
        "chunk_rows": args.chunk_rows,
        "generate_s": round(gen_s, 2),
        **fit,
        "machine": _machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1m_before_fit": load_before,
        "blas_threads_env": {k: os.environ[k] for k in _THREAD_VARS if k in os.environ},
        "command": "python benchmarks/align_fit.py " + " ".join(argv or sys.argv[1:]),
    }
    print(
        f"fit {args.n} x {args.dim} pairs ({args.method}) from memory-mapped files: "
        f"{fit['fit_s']:.1f} s, peak RSS {fit['peak_rss_mb']:.0f} MB "
        f"(lambda {fit['lambda']}; generation {gen_s:.1f} s, not counted)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="pairs (default %(default)s)")
    p.add_argument("--dim", type=int, default=512, help="dimension of both sides")
    p.add_argument("--method", default="auto", help="alignment method (default %(default)s)")
    p.add_argument("--chunk-rows", type=int, default=16_384, help="rows per streamed chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tmp", default=None, help="directory for the temporary .npy files")
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--fit-only", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    p.add_argument("--generate-only", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    return p


def _generate(source: Path, target: Path, n: int, dim: int, seed: int) -> None:
    """Write the pairs chunk by chunk through writable memory maps (never all in RAM)."""
    from mixsearch.align.synthetic import SyntheticSpaces

    spaces = SyntheticSpaces.create(
        dim, rank=min(64, dim), angle=1.0, noise=2.0, gap=0.7, seed=seed
    )
    xs = np.lib.format.open_memmap(source, mode="w+", dtype=np.float32, shape=(n, dim))
    ys = np.lib.format.open_memmap(target, mode="w+", dtype=np.float32, shape=(n, dim))
    for i, start in enumerate(range(0, n, GEN_CHUNK_ROWS)):
        rows = min(GEN_CHUNK_ROWS, n - start)
        xs[start : start + rows], ys[start : start + rows] = spaces.sample(rows, seed=seed + 1 + i)
    xs.flush()
    ys.flush()
    del xs, ys


def _run_self(extra_args: list[str]) -> str:
    cmd = [sys.executable, __file__, *extra_args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _fit_in_subprocess(source: Path, target: Path, args: argparse.Namespace) -> dict:
    out = _run_self(
        [
            "--fit-only",
            str(source),
            str(target),
            "--method",
            args.method,
            "--chunk-rows",
            str(args.chunk_rows),
            "--seed",
            str(args.seed),
        ]
    )
    return json.loads(out.strip().splitlines()[-1])


def _fit_only(args: argparse.Namespace) -> int:
    from mixsearch.align import fit_alignment_from_files

    t0 = time.perf_counter()
    alignment = fit_alignment_from_files(
        args.fit_only[0], args.fit_only[1], args.method, chunk_rows=args.chunk_rows, seed=args.seed
    )
    fit_s = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    summary = {
        "fit_s": round(fit_s, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "vm_hwm_mb": _vm_hwm_mb(),  # same peak from /proc, for this process's own mm only
        "lambda": alignment.to_dict()["lambda"],
        "cv_pairs": alignment.extra.get("cv", {}).get("pairs"),
        "orthogonality_error": alignment.orthogonality_error(),
        "fingerprint": alignment.fingerprint,
    }
    print(json.dumps(summary))
    return 0


def _vm_hwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


if __name__ == "__main__":
    sys.exit(main())
