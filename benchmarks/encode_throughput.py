"""Image encoding throughput: the model forward alone vs the whole file pipeline.

(a) *forward*: ``encoder.encode_image_tensors`` on tensors decoded and preprocessed beforehand;
(b) *pipeline*: ``encode_image_files`` from JPEG files (read, decode, preprocess in worker threads
    overlapped with the forward; no cache), for each ``--workers`` setting; plus one run with
    JPEG draft decoding switched off, to show what it buys.

Rounds alternate (a) and (b) so load from other processes on a shared machine hits both alike;
the median of the rounds is reported. Goal: pipeline ≥ 0.9 × forward for the offline encoder.
Photos: ``../shared/data/coco-mini/images`` when present, else scikit-image's bundled colour
photos saved as JPEG in a temporary folder; repeated up to ``--n``.

    .venv/bin/python benchmarks/encode_throughput.py --n 256 --json benchmarks/out/encode_throughput.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as C  # noqa: E402

GOAL_RATIO = 0.9
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Images/s: model forward alone vs file pipeline.")
    p.add_argument(
        "--encoder", default="offline-default", help="encoder name (see --help of mixsearch)"
    )
    p.add_argument("--n", type=int, default=256, help="images per timed run (photos repeated)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", default="0,1,2", help="comma-separated decode-thread counts")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; median reported")
    p.add_argument("--images", default=None, help="folder of JPEGs (default: coco-mini)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", dest="json_out", default=None, help="write results as JSON here")
    return p.parse_args(argv)


def source_photos(folder: str | None, scratch: Path) -> tuple[list[Path], str]:
    """JPEG files to read: the given folder, coco-mini, or skimage photos written as JPEG."""
    candidates = [Path(folder)] if folder else [C.COCO_MINI / "images"]
    for candidate in candidates:
        files = sorted(candidate.glob("*.jpg")) if candidate.is_dir() else []
        if files:
            return files, str(candidate)
    if folder:
        raise SystemExit(f"no .jpg files in {folder}")
    import numpy as np
    from PIL import Image
    from skimage import data

    files = []
    for name in SKIMAGE_PHOTOS:
        path = scratch / f"{name}.jpg"
        Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB").save(path, quality=90)
        files.append(path)
    return files, "skimage bundled photos (JPEG q90)"


def repeated(files: list[Path], n: int) -> list[Path]:
    return [files[i % len(files)] for i in range(n)]


def pretensors(encoder: Any, paths: list[Path], batch_size: int) -> list[Any]:
    """Batches of preprocessed tensors, decoded exactly as the pipeline decodes them."""
    import torch

    from mixsearch.encoders import load_image

    draft = getattr(encoder, "draft_size", None)
    unique = {p: encoder.preprocess(load_image(p, draft_size=draft)) for p in set(paths)}
    tensors = [unique[p] for p in paths]
    return [torch.stack(tensors[i : i + batch_size]) for i in range(0, len(tensors), batch_size)]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_forward(encoder: Any, batches: list[Any]) -> None:
    for batch in batches:
        encoder.encode_image_tensors(batch)


def run_pipeline(encoder: Any, paths: list[Path], batch_size: int, workers: int) -> None:
    from mixsearch.encoders import encode_image_files

    result = encode_image_files(encoder, paths, batch_size=batch_size, num_workers=workers)
    if result.errors:
        raise SystemExit(f"unexpected decode errors: {result.errors[:3]}")


def measure(args: argparse.Namespace, encoder: Any, paths: list[Path]) -> dict[str, list[float]]:
    """Seconds per configuration, one entry per round (rounds interleave the configurations)."""
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    batches = pretensors(encoder, paths, args.batch_size)
    run_forward(encoder, batches[:1])  # warm-up: first-call allocations, thread pools
    draft = getattr(encoder, "draft_size", None)
    seconds: dict[str, list[float]] = {}
    for round_index in range(args.rounds):
        C.log(f"round {round_index + 1}/{args.rounds}")
        seconds.setdefault("forward", []).append(timed(lambda: run_forward(encoder, batches)))
        for workers in worker_counts:
            key = f"pipeline_workers_{workers}"
            seconds.setdefault(key, []).append(
                timed(lambda w=workers: run_pipeline(encoder, paths, args.batch_size, w))
            )
        if draft:
            encoder.draft_size = None
            seconds.setdefault("pipeline_workers_1_full_decode", []).append(
                timed(lambda: run_pipeline(encoder, paths, args.batch_size, 1))
            )
            encoder.draft_size = draft
    return seconds


def summarise(seconds: dict[str, list[float]], n: int) -> dict[str, Any]:
    rates = {key: n / statistics.median(values) for key, values in seconds.items()}
    forward = rates["forward"]
    pipelines = {k: v for k, v in rates.items() if k.startswith("pipeline_workers_")}
    best = max((k for k in pipelines if not k.endswith("full_decode")), key=pipelines.get)
    return {
        "images_per_s": rates,
        "ratio_to_forward": {k: v / forward for k, v in pipelines.items()},
        "best_pipeline": best,
        "best_ratio": pipelines[best] / forward,
        "goal_ratio": GOAL_RATIO,
        "goal_met": pipelines[best] / forward >= GOAL_RATIO,
        "seconds_per_round": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from mixsearch.encoders import create_encoder

    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        files, source = source_photos(args.images, Path(scratch))
        paths = repeated(files, args.n)
        C.log(f"{len(paths)} images from {source}; loading {args.encoder}")
        encoder = create_encoder(args.encoder, device=args.device)
        seconds = measure(args, encoder, paths)
    summary = summarise(seconds, len(paths))
    payload = {
        "encoder": args.encoder,
        "n": len(paths),
        "batch_size": args.batch_size,
        "source": source,
        "torch_threads": torch.get_num_threads(),
        "machine": C.machine_info(),
        **summary,
    }
    rows = [
        [key, rate, summary["ratio_to_forward"].get(key, 1.0)]
        for key, rate in summary["images_per_s"].items()
    ]
    print(C.fmt_table(rows, ["configuration", "images/s", "x forward"]))
    print(
        f"best pipeline {summary['best_pipeline']}: {summary['best_ratio']:.3f} x forward "
        f"(goal >= {GOAL_RATIO}: {'met' if summary['goal_met'] else 'NOT met'})"
    )
    if args.json_out:
        C.write_json(args.json_out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
