"""Cold image encoding: a fresh process builds the offline default encoder and encodes one photo.

    python benchmarks/cold_image_encoder.py [--runs 5] [--image FILE] \
        [--checkout NAME=DIR ...] [--json]

What every CLI command that encodes an image (photo ingest, ``search --image``) and a server's
first image query pay before the first vector: imports (torch, the image model's code), the
EfficientNet-lite0 weights, the 1000 shipped class-prompt vectors, one forward. Each run is one
new Python process timed end to end (start to exit) with ``OMP_NUM_THREADS=1``, after one
untimed run per checkout to warm the file cache. ``--checkout NAME=DIR`` (repeatable) runs the
mixsearch found in DIR (``PYTHONPATH=DIR``), alternating between checkouts run by run so machine
load affects all alike: e.g. main against a branch. By default: this checkout. Each process
also reports whether it imported timm. The image defaults to scikit-image's cat photo
("chelsea") saved as a JPEG.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CHILD = """
import json, sys, time
start = time.perf_counter()
from PIL import Image
from mixsearch.encoders import create_encoder
encoder = create_encoder("offline-default", device="cpu")
vectors = encoder.encode_images([Image.open(sys.argv[1])])
import mixsearch
print(json.dumps({"in_process_s": time.perf_counter() - start, "mixsearch": mixsearch.__file__,
                  "shape": list(vectors.shape), "timm_imported": "timm" in sys.modules}))
"""
THREADS_1 = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def encode_once(checkout: Path, image: Path) -> dict[str, float | bool]:
    env = {**os.environ, **THREADS_1, "PYTHONPATH": str(checkout)}
    t0 = time.perf_counter()
    done = subprocess.run(  # cwd too: `python -c` puts the working folder first on sys.path
        [sys.executable, "-c", CHILD, str(image)],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"encoding in {checkout} failed: {done.stderr.strip()}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(report["mixsearch"]).is_relative_to(checkout):
        raise SystemExit(f"ran {report['mixsearch']}, not the mixsearch in {checkout}")
    return {"wall_s": wall, "in_process_s": report["in_process_s"], "timm": report["timm_imported"]}


def default_image(folder: Path) -> Path:
    import numpy as np
    from PIL import Image
    from skimage import data

    path = folder / "chelsea.jpg"
    Image.fromarray(np.asarray(data.chelsea())).save(path, quality=90)
    return path


def parse_checkouts(specs: list[str]) -> dict[str, Path]:
    if not specs:
        return {"this": C.REPO_ROOT}
    checkouts = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not (Path(folder) / "mixsearch" / "__init__.py").is_file():
            raise SystemExit(f"--checkout {spec!r}: expected NAME=DIR with DIR/mixsearch in it")
        checkouts[name] = Path(folder).resolve()
    return checkouts


def summary(checkout: Path, runs: list[dict[str, float | bool]]) -> dict[str, object]:
    walls = [float(r["wall_s"]) for r in runs]
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "checkout": str(checkout),
        "commit": commit,
        "wall_median_s": round(statistics.median(walls), 2),
        "wall_min_s": round(min(walls), 2),
        "wall_max_s": round(max(walls), 2),
        "in_process_median_s": round(statistics.median(float(r["in_process_s"]) for r in runs), 2),
        "imports_timm": any(bool(r["timm"]) for r in runs),
        "wall_s": [round(w, 2) for w in walls],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per checkout (5)")
    p.add_argument("--image", type=Path, default=None, help="the photo (default: skimage's cat)")
    p.add_argument("--checkout", action="append", default=[], metavar="NAME=DIR")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", type=Path, default=C.REPO_ROOT / "benchmarks/out/cold_image.json")
    args = p.parse_args(argv)
    checkouts = parse_checkouts(args.checkout)
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image or default_image(Path(tmp))
        load_before = os.getloadavg()[0]
        for folder in checkouts.values():
            encode_once(folder, image)  # warm the file cache
        runs: dict[str, list[dict[str, float | bool]]] = {name: [] for name in checkouts}
        for run in range(args.runs):
            for name, folder in checkouts.items():
                runs[name].append(encode_once(folder, image))
                C.log(f"run {run + 1} {name}: {runs[name][-1]['wall_s']:.2f} s")
    result = {
        "benchmark": "cold_image_encoder",
        "machine": C.machine_info(),
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "image": str(args.image or "skimage chelsea (JPEG, quality 90)"),
        "runs": args.runs,
        "checkouts": {name: summary(checkouts[name], r) for name, r in runs.items()},
        "command": "python benchmarks/cold_image_encoder.py " + " ".join(argv or sys.argv[1:]),
    }
    C.write_json(args.out, result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = [
            [
                name,
                s["commit"],
                s["wall_median_s"],
                s["wall_min_s"],
                s["wall_max_s"],
                s["imports_timm"],
            ]
            for name, s in result["checkouts"].items()
        ]
        print(C.fmt_table(rows, ["checkout", "commit", "median s", "min s", "max s", "timm"]))
        print(f"load average (1 min): {result['load_average_1m']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
