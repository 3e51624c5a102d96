"""`mixsearch embed` throughput: in-process vs Ray Data actors on this machine, and Ray's start-up.

A folder of real photos (coco-mini's, repeated by symlinks, every other one captioned; without
``../shared/data/coco-mini``, crops of scikit-image's photos) is embedded into shards with the
offline default encoder, embedding cache off, by:

- in-process, torch on 1 thread, and on all cores (what `embed` without --ray does by default);
- ``--ray local`` with 1 and with 2 encoder actors (each actor: one CPU, torch on 1 thread),
  in one Ray session started here with ``ray.init(num_cpus=cores, include_dashboard=False)``.

Documents/s are over the encoding stage of `embed` (for Ray it includes starting the actors and
loading the encoder in each: a fixed cost a longer job amortises, also reported); the ratios to
the 1-thread in-process run come from the same run. Ray's start-up (``ray.init`` + shutdown) is
timed separately. With GPUs the same script measures GPU actors (``--ray ADDRESS`` of a cluster
with GPUs: each actor takes one); that path is written but was not measured here.

    .venv/bin/python benchmarks/embed_scaling.py --n 192 --json benchmarks/out/embed_scaling.json
    .venv/bin/python benchmarks/embed_scaling.py --index-bytes    # the store's limits (README)
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as C  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Documents/s of `embed`: in-process vs Ray actors.")
    p.add_argument("--n", type=int, default=192, help="documents (photos repeated by symlinks)")
    p.add_argument("--shard-size", type=int, default=32)
    p.add_argument("--encoder", default="offline-default")
    p.add_argument("--data", default=str(C.COCO_MINI), help="coco-mini folder")
    p.add_argument("--json", dest="json_out", default=None)
    p.add_argument(
        "--index-bytes", action="store_true", help="only: index bytes/vector by index type"
    )
    return p.parse_args(argv)


def build_corpus(data: Path, n: int, out: Path) -> dict[str, Any]:
    if (data / "captions.json").is_file():
        return C.build_folder(data, n, out) | {"photos": "coco-mini"}
    import numpy as np
    import skimage.data
    from PIL import Image

    names = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "horse")
    photos = [Image.fromarray(np.asarray(getattr(skimage.data, name)())) for name in names]
    out.mkdir(parents=True)
    for i in range(n):
        photo = photos[i % len(photos)].convert("RGB")
        w, h = photo.size
        photo.crop((i % 9 * w // 60, i % 7 * h // 60, w, h)).save(out / f"photo_{i:06d}.jpg")
        if i % 2 == 0:
            (out / f"photo_{i:06d}.txt").write_text(f"{names[i % len(names)]} {i}")
    return {"documents": n, "photos": "scikit-image crops"}


def run_mode(corpus: Path, work: Path, args: argparse.Namespace, **options: Any) -> dict[str, Any]:
    from mixsearch.shards import embed

    out = work / f"shards-{len(list(work.iterdir()))}"
    t0 = time.perf_counter()
    report = embed(
        corpus, out, encoder=args.encoder, shard_size=args.shard_size, cache=False, **options
    )
    wall = time.perf_counter() - t0
    encode = report.timings["encode"]
    return {
        "documents": report.documents,
        "embedded": report.embedded,
        "encode_s": encode,
        "wall_s": wall,
        "docs_per_s": report.documents / encode,
    }


def index_bytes_per_vector(n: int = 10_000, dim: int = 512) -> dict[str, float]:
    """Serialized FAISS index bytes / vector as the store wraps each type (IVF ids native, the
    others behind IndexIDMap2), on random unit vectors: what bounds vectors per machine. (HNSW32
    is measured at 1M by benchmarks/search.py: 2328 bytes/vector, RESULTS.md.)"""
    import faiss
    import numpy as np

    vectors = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64)
    sizes = {}
    for spec in ("Flat", "IVF64,PQ64", "IVF64,PQ32"):
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        if not spec.startswith("IVF"):
            index = faiss.IndexIDMap2(index)
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        sizes[spec] = faiss.serialize_index(index).nbytes / n
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.index_bytes:
        sizes = index_bytes_per_vector()
        print(C.fmt_table([[k, v] for k, v in sizes.items()], ["index (D=512)", "bytes/vector"]))
        return 0
    import ray
    import torch

    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="embed-scaling-"))
    results: dict[str, Any] = {"machine": C.machine_info(), "args": vars(args), "modes": {}}
    try:
        results["corpus"] = build_corpus(Path(args.data), args.n, work / "corpus")
        runs = work / "runs"
        runs.mkdir()
        for threads in (1, cores):
            torch.set_num_threads(threads)
            results["modes"][f"in-process, {threads} thread(s)"] = run_mode(
                work / "corpus", runs, args
            )
        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING)
        results["ray_init_s"] = time.perf_counter() - t0
        for workers in (1, 2):
            results["modes"][f"ray local, {workers} actor(s)"] = run_mode(
                work / "corpus", runs, args, ray="local", workers=workers
            )
        t0 = time.perf_counter()
        ray.shutdown()
        results["ray_shutdown_s"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results["modes"]["in-process, 1 thread(s)"]["docs_per_s"]
    rows = [
        [mode, r["embedded"], r["encode_s"], r["docs_per_s"], r["docs_per_s"] / base]
        for mode, r in results["modes"].items()
    ]
    print(C.fmt_table(rows, ["mode", "docs", "encode s", "docs/s", "x in-process 1 thread"]))
    print(f"ray.init: {results['ray_init_s']:.2f} s, shutdown {results['ray_shutdown_s']:.2f} s")
    if args.json_out:
        C.write_json(args.json_out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
