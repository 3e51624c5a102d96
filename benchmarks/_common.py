"""Shared helpers of the performance benchmarks: synthetic CLIP-like corpora, timing, machine facts.

The synthetic corpus imitates the geometry that matters for approximate search on CLIP embeddings:
unit vectors in D=512, clustered (a few hundred clusters on the sphere, each with sub-clusters),
and a *modality gap* — text and image embeddings sit in two cones displaced along a shared offset,
image+text documents in between. Queries are text vectors drawn near documents (a random
document moved to the text side plus noise), so nearest neighbours are neither trivial (the
document itself) nor uniform noise, which would be unrealistically hard for every ANN index.
Everything is seeded and generated in chunks so a 1M x 512 corpus never needs a second copy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The scripts run as `python benchmarks/X.py` from a checkout, installed or not (the GPU script on
# a bare CUDA machine): make the repository's package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mixsearch.cli.output import table  # noqa: E402
from mixsearch.vectors import json_default  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COCO_MINI = SHARED_DATA / "coco-mini"

# Modality codes match mixsearch.documents.Modality (kept literal so the generator needs no import).
TEXT, IMAGE, IMAGE_TEXT = 0, 1, 2
MODALITY_SHARES = (0.4, 0.4, 0.2)

# Norms of the parts a document vector is built from, before normalisation. With these, two
# documents of one sub-cluster and modality have cosine ~0.7, of one cluster ~0.55, of different
# clusters ~0.15 — roughly the spread of CLIP ViT-B-32 embeddings of a varied photo collection.
CLUSTER_NORM = 1.0
SUBCLUSTER_NORM = 0.6
MODALITY_NORM = 0.6
NOISE_NORM = 0.7
QUERY_NOISE_NORM = 0.8
SUBCLUSTERS_PER_CLUSTER = 16


@dataclass(frozen=True)
class CorpusGeometry:
    """The fixed directions a synthetic corpus and its queries share."""

    centers: np.ndarray  # [C, D] cluster centres, unit
    subcenters: np.ndarray  # [C, S, D] sub-cluster offsets, unit
    modality_means: np.ndarray  # [3, D] text, image, image+text offsets (norm MODALITY_NORM)

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Row-normalised float32 copy (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def make_geometry(dim: int = 512, n_clusters: int = 300, seed: int = 0) -> CorpusGeometry:
    rng = np.random.default_rng([seed, 1])
    centers = unit_rows(rng.standard_normal((n_clusters, dim)))
    subcenters = unit_rows(rng.standard_normal((n_clusters * SUBCLUSTERS_PER_CLUSTER, dim)))
    gap = unit_rows(rng.standard_normal((1, dim)))[0]
    shared = unit_rows(rng.standard_normal((1, dim)))[0]
    # Text and image cones: a common offset (all CLIP vectors share a mean) plus opposite gaps.
    text_mean = unit_rows((shared + gap)[None])[0] * MODALITY_NORM
    image_mean = unit_rows((shared - gap)[None])[0] * MODALITY_NORM
    means = np.stack([text_mean, image_mean, 0.5 * (text_mean + image_mean)]).astype(np.float32)
    return CorpusGeometry(
        centers=centers,
        subcenters=subcenters.reshape(n_clusters, SUBCLUSTERS_PER_CLUSTER, dim),
        modality_means=means,
    )


def _noise(rng: np.random.Generator, n: int, dim: int, norm: float) -> np.ndarray:
    # Per-coordinate std norm/sqrt(D) gives rows of norm ~`norm` in high dimension.
    return rng.standard_normal((n, dim), dtype=np.float32) * np.float32(norm / np.sqrt(dim))


def make_documents(
    geometry: CorpusGeometry, n: int, seed: int = 0, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit document vectors [n, D] float32 and their modality codes [n] int8."""
    dim = geometry.dim
    vectors = np.empty((n, dim), dtype=np.float32)
    modality = np.empty(n, dtype=np.int8)
    n_clusters, n_sub = geometry.subcenters.shape[:2]
    for chunk_index, start in enumerate(range(0, n, chunk)):
        stop = min(n, start + chunk)
        rng = np.random.default_rng([seed, 2, chunk_index])
        m = rng.choice(3, size=stop - start, p=MODALITY_SHARES).astype(np.int8)
        c = rng.integers(0, n_clusters, size=stop - start)
        s = rng.integers(0, n_sub, size=stop - start)
        v = CLUSTER_NORM * geometry.centers[c] + SUBCLUSTER_NORM * geometry.subcenters[c, s]
        v += geometry.modality_means[m]
        v += _noise(rng, stop - start, dim, NOISE_NORM)
        vectors[start:stop] = unit_rows(v)
        modality[start:stop] = m
    return vectors, modality


def make_queries(
    geometry: CorpusGeometry,
    documents: np.ndarray,
    modality: np.ndarray,
    n_queries: int,
    seed: int = 1,
) -> np.ndarray:
    """Text queries near random documents: moved to the text cone, plus fresh noise."""
    rng = np.random.default_rng([seed, 3])
    picks = rng.integers(0, len(documents), size=n_queries)
    to_text = geometry.modality_means[TEXT] - geometry.modality_means[modality[picks]]
    # Documents are unit vectors, their parts sum to norm ~1.6 before normalising: rescale first.
    q = documents[picks] * np.float32(1.6) + to_text
    q += _noise(rng, n_queries, geometry.dim, QUERY_NOISE_NORM)
    return unit_rows(q)


CORPUS_FILES = {  # a corpus of one's own (--corpus DIR): file -> what it holds
    "vectors.npy": "[N, D] document vectors in the store's space (e.g. CLIP, images aligned)",
    "modality.npy": "[N] int modality codes: 0 text, 1 image, 2 image+text",
    "queries.npy": "[Q, D] text query vectors (measured)",
    "tune.npy": "[T, D] optional: other text queries, to tune nprobe/efSearch on",
}


def load_corpus(folder: str | Path) -> dict[str, np.ndarray]:
    """A corpus of one's own instead of the synthetic one: the `CORPUS_FILES` of ``folder``
    (plain .npy, read without pickle; rows normalised here), as keys vectors, modality,
    queries and, when given, tune. A missing or malformed file stops the run with one line
    naming it."""
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    for name in CORPUS_FILES:
        path = folder / name
        if not path.is_file():
            if name == "tune.npy":
                continue
            raise SystemExit(f"{path}: missing ({name}: {CORPUS_FILES[name]})")
        try:
            arrays[path.stem] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise SystemExit(f"{path}: not a plain .npy array ({err})") from None
    check_corpus(folder, arrays)
    for name in ("vectors", "queries", "tune"):
        if name in arrays:
            arrays[name] = np.ascontiguousarray(unit_rows(arrays[name]))
    arrays["modality"] = arrays["modality"].astype(np.int8)
    return arrays


def check_corpus(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Shapes, dtypes and values of a loaded corpus (`load_corpus`)."""
    vectors, modality = arrays["vectors"], arrays["modality"]
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.dtype.kind != "f":
        raise SystemExit(
            f"{folder / 'vectors.npy'}: expected float [N, D], got {vectors.dtype} {vectors.shape}"
        )
    if modality.shape != (len(vectors),) or modality.dtype.kind not in "iu":
        raise SystemExit(
            f"{folder / 'modality.npy'}: expected int [{len(vectors)}], got "
            f"{modality.dtype} {modality.shape}"
        )
    if len(modality) and not set(np.unique(modality).tolist()) <= {TEXT, IMAGE, IMAGE_TEXT}:
        raise SystemExit(f"{folder / 'modality.npy'}: codes must be 0, 1 or 2")
    for name in ("vectors", "queries", "tune"):
        x = arrays.get(name)
        if x is None:
            continue
        if x.ndim != 2 or x.shape[1] != vectors.shape[1] or x.dtype.kind != "f" or not len(x):
            raise SystemExit(
                f"{folder / (name + '.npy')}: expected float [n, {vectors.shape[1]}], "
                f"got {x.dtype} {x.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1) | ~np.any(x, axis=1))
        if len(bad):
            raise SystemExit(
                f"{folder / (name + '.npy')}: row {bad[0]} is zero or not finite "
                f"({len(bad)} such rows)"
            )


def set_faiss_threads(n: int | None) -> int:
    """Set FAISS's OpenMP threads explicitly (default: all cores) and return the number used."""
    import faiss

    threads = n or os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    return threads


def machine_info() -> dict[str, Any]:
    """Facts to write beside every figure: CPU model, cores, library versions, date."""
    import faiss

    info: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "faiss": getattr(faiss, "__version__", "?"),
        "numpy": np.__version__,
    }
    return info


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def percentile_ms(seconds: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(seconds), q) * 1000.0)


def time_call(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_qps(fn: Callable[[np.ndarray], Any], queries: np.ndarray, batch: int) -> float:
    """Queries per second pushing ``queries`` through ``fn`` in batches of ``batch``."""
    t0 = time.perf_counter()
    for start in range(0, len(queries), batch):
        fn(queries[start : start + batch])
    return len(queries) / max(time.perf_counter() - t0, 1e-9)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of ``truth`` present in the same row of ``found``."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / float(truth.size)


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, default=json_default) + "\n")


def fmt_table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain aligned text table (floats to 4 significant digits, None as '-')."""
    return table(rows, header, fmt=_fmt)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def log(msg: str) -> None:
    """Progress on stderr, so stdout stays the result."""
    print(msg, file=sys.stderr, flush=True)


def build_folder(data: Path, n: int, out: Path) -> dict[str, int]:
    """``n`` photo symlinks under ``out``; even-numbered ones get a caption .txt beside them."""
    items = json.loads((data / "captions.json").read_text())["items"]
    if not items:
        raise SystemExit(f"{data / 'captions.json'} lists no items")
    out.mkdir(parents=True, exist_ok=True)
    with_caption = 0
    for i in range(n):
        item = items[i % len(items)]
        source = (data / item["image"]).resolve()
        link = out / f"photo_{i:06d}{source.suffix.lower()}"
        link.symlink_to(source)
        if i % 2 == 0 and item.get("captions"):
            link.with_suffix(".txt").write_text(
                item["captions"][i // len(items) % len(item["captions"])]
            )
            with_caption += 1
    return {"documents": n, "image_text": with_caption, "image_only": n - with_caption}
