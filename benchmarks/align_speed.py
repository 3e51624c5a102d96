"""Wall time of the alignment commands a user runs, through the CLI, on synthetic CLIP-like data.

Two goals (issue 10), each timed as a fresh `python -m mixsearch ...` process (start-up included):

* ``bench embeddings DIR --methods none,center,procrustes,auto,lstsq`` on 250 fit pairs × 250
  documents × 512-d (`bench embeddings` layout, docs/embeddings-format.md) in ≤ 10 s;
* ``align fit --method auto`` on 1,000 × 512 pairs in ≤ 5 s.

The data come from `mixsearch.align.synthetic.ModalityGapSpaces` (a modality gap, structured
per-modality variance and a rotation between the two content subspaces): documents text-only,
image-only and image+text 1:1:1, queries a second text rendering of each document's item, one
relevant document per query. The fit pairs are other items. The 1-minute load average is
recorded before each run: on a shared 2-core machine it explains most of the spread.

    python benchmarks/align_speed.py [--repeats 3] [--baseline OLD_CHECKOUT] [--json OUT.json]

``--baseline DIR`` times the same commands with another checkout of mixsearch (e.g. ``git
worktree add /tmp/old <commit>``) on the same data, alternating old and new run by run, so the
ratio holds on a busy machine where absolute seconds do not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

from mixsearch.align.synthetic import ModalityGapSpaces  # noqa: E402
from mixsearch.eval.embeddings import save_embeddings_dir  # noqa: E402

METHODS = "none,center,procrustes,auto,lstsq"
GOALS = {"bench_embeddings": 10.0, "align_fit_auto": 5.0}


def write_bench_folder(path: Path, n_fit: int, n_docs: int, dim: int, seed: int = 0) -> Path:
    """A `bench embeddings` folder: documents 1:1:1 by modality, one query per document."""
    spaces = ModalityGapSpaces.create(dim, seed=seed)
    fit_image, (fit_text,) = spaces.sample(n_fit, seed=seed + 1)
    images, (doc_text, queries) = spaces.sample(n_docs, seed=seed + 2, text_views=2)
    modality = np.arange(n_docs) % 3  # 0 text, 1 image, 2 image+text
    return save_embeddings_dir(
        path,
        queries=queries,
        doc_text=doc_text,
        doc_image=images,
        doc_modality=modality,
        qrels=[{i: 1.0} for i in range(n_docs)],
        fit_image=fit_image,
        fit_text=fit_text,
        meta={"generator": "ModalityGapSpaces", "dim": dim, "seed": seed},
    )


def write_pairs(folder: Path, n: int, dim: int, seed: int = 0) -> tuple[Path, Path]:
    spaces = ModalityGapSpaces.create(dim, seed=seed)
    image, (text,) = spaces.sample(n, seed=seed + 1)
    np.save(folder / "image.npy", image, allow_pickle=False)
    np.save(folder / "text.npy", text, allow_pickle=False)
    return folder / "image.npy", folder / "text.npy"


def timed_cli(args: list[str], code: Path = ROOT) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds (user + system, all threads) of one CLI process running mixsearch
    from ``code``, and its --json output. CPU time is what a busy machine distorts least."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mixsearch", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=code,  # `python -m` puts the working folder first on sys.path
        check=False,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"align_speed: {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return seconds, cpu, json.loads(done.stdout)


def run(repeats: int, work: Path, baseline: Path | None) -> dict[str, Any]:
    bench_dir = write_bench_folder(work / "bench", n_fit=250, n_docs=250, dim=512)
    source, target = write_pairs(work, n=1000, dim=512)
    commands = {
        "bench_embeddings": [
            "bench", "embeddings", str(bench_dir), "--methods", METHODS, "--out", str(work / "r")
        ],
        "align_fit_auto": [
            "align", "fit", "--source", str(source), "--target", str(target),
            "--method", "auto", "--out", str(work / "align"), "--no-progress",
        ],
    }  # fmt: skip
    results: dict[str, Any] = {}
    for name, args in commands.items():
        runs, old_runs = [], []
        for _ in range(repeats):
            runs.append(_one_run(name, args, ROOT))
            if baseline is not None:
                old_runs.append(_one_run(name, args, baseline))
        best = min(r["seconds"] for r in runs)
        results[name] = {
            "runs": runs,
            "best_seconds": best,
            "median_seconds": float(np.median([r["seconds"] for r in runs])),
            "goal_seconds": GOALS[name],
            "best_over_goal": round(best / GOALS[name], 3),
        }
        results[name]["best_cpu_seconds"] = min(r["cpu_seconds"] for r in runs)
        if old_runs:
            old_best = min(r["seconds"] for r in old_runs)
            old_cpu = min(r["cpu_seconds"] for r in old_runs)
            results[name]["baseline"] = {
                "runs": old_runs,
                "best_seconds": old_best,
                "best_cpu_seconds": old_cpu,
            }
            results[name]["speedup_best"] = round(old_best / best, 2)
            results[name]["speedup_cpu"] = round(old_cpu / results[name]["best_cpu_seconds"], 2)
    return results


def _one_run(name: str, args: list[str], code: Path) -> dict[str, Any]:
    load = os.getloadavg()[0]
    seconds, cpu, output = timed_cli(args, code)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_1min": round(load, 2),
        "summary": _summary(name, output),
    }


def _summary(name: str, output: dict[str, Any]) -> dict[str, Any]:
    if name == "align_fit_auto":
        return {"lambda": output["lambda"], "n_pairs": output["n_pairs"]}
    return {m: r.get("ndcg@10", r.get("error")) for m, r in output["methods"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout to time beside this one")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="align-speed-") as tmp:
        results = run(args.repeats, Path(tmp), args.baseline)
    payload = {"machine": machine_info(), "results": results}
    for name, r in results.items():
        verdict = "PASS" if r["best_seconds"] <= r["goal_seconds"] else "MISS"
        loads = ", ".join(
            f"{x['seconds']} s wall / {x['cpu_seconds']} s CPU (load {x['load_1min']})"
            for x in r["runs"]
        )
        print(f"{name}: {loads}; best {r['best_seconds']} s, goal {r['goal_seconds']} s {verdict}")
        print(f"  {r['runs'][-1]['summary']}")
        if "baseline" in r:
            old = ", ".join(
                f"{x['seconds']} s wall / {x['cpu_seconds']} s CPU" for x in r["baseline"]["runs"]
            )
            print(
                f"  baseline: {old}; speed-up best-to-best {r['speedup_best']}x wall, "
                f"{r['speedup_cpu']}x CPU"
            )
            print(f"  baseline: {r['baseline']['runs'][-1]['summary']}")
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
