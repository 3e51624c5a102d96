"""The Ray runner: Ray Data ``map_batches`` over the pending documents, one actor pool.

Each actor builds the encoder once (from the settings the manifest records) and encodes batches
of documents through the same `encode_rows` as the in-process runner; it returns one row per
document (vectors, or the per-item error). The driver gathers rows per shard and writes a shard as
soon as all its documents are back, so finished shards survive a crash of the job.

Where actors run: ``local`` starts Ray on this machine (``num_cpus`` = ``workers`` or the CPU
count, no dashboard); ``auto`` joins the cluster this machine belongs to; any other value is an
address passed to ``ray.init`` (``ray://head:10001`` for Ray Client, or ``head:6379``). A Ray
session that is already running in this process is used as it is and left running. On a cluster
with GPUs each actor takes one GPU (``num_gpus=1``) and encodes on CUDA; otherwise one CPU.
Every node must have mixsearch installed and see the source files at the same paths.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.documents import Document
from mixsearch.errors import MixsearchError

if TYPE_CHECKING:
    from mixsearch.shards.embed import ShardWriter
    from mixsearch.shards.plan import ShardPlan

# One shard per actor call, encoded exactly as the in-process runner encodes it (same image
# batches): batch composition changes CPU kernels' rounding, and the offline encoder's top-k
# class pooling turns such rounding into visible differences.
SHARDS_PER_CALL = 1


class EncoderActor:
    """Ray Data callable class: the encoder is built once per actor, in ``__init__``."""

    def __init__(self, spec: Any, device: str, cache: bool, threads: int) -> None:
        import torch

        from mixsearch.encoders import create_encoder

        torch.set_num_threads(threads)  # one actor per core: more threads only contend
        self.encoder = create_encoder(spec, device=device)
        self.cache = None
        if cache:
            from mixsearch.encoders import EmbeddingCache, default_cache_dir

            self.cache = EmbeddingCache(default_cache_dir())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each input row is a whole shard; the output has one row per document of it."""
        from mixsearch.shards.rows import encode_rows, to_batch

        outputs = []
        for index, documents in zip(batch["shard"], batch["documents"], strict=True):
            docs = _documents(str(documents))
            out = to_batch(encode_rows(self.encoder, docs, self.cache), len(docs), self.encoder.dim)
            out["shard"] = np.full(len(docs), int(index), dtype=np.int64)
            out["position"] = np.arange(len(docs), dtype=np.int64)
            outputs.append(out)
        return {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}


def run_on_ray(
    address: str,
    plan: ShardPlan,
    pending: list[int],
    writer: ShardWriter,
    encoder_info: dict[str, Any],
    workers: int | None,
    cache: bool,
    device: str,
) -> None:
    with ray_session(address, workers) as ray:
        import ray.data

        gpus = _gpus(ray, device)
        actors = workers or _default_workers(ray, gpus)
        dataset = ray.data.from_items(
            _items(plan, pending),
            override_num_blocks=max(1, min(len(pending), 1000)),
        ).map_batches(
            EncoderActor,
            fn_constructor_kwargs={
                "spec": encoder_info["spec"],
                "device": "cuda" if gpus else ("cpu" if device == "auto" else device),
                "cache": cache,
                "threads": 1,
            },
            batch_size=SHARDS_PER_CALL,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=1 if gpus else 0,
        )
        _collect(dataset, plan, pending, writer)


@contextmanager
def ray_session(address: str, workers: int | None) -> Iterator[Any]:
    """``ray`` initialised for ``address``; shut down afterwards only if started here."""
    try:
        import ray
    except ImportError:
        raise MixsearchError(
            "--ray needs Ray Data: pip install 'mixsearch[ray]' (or drop --ray to run in-process)"
        ) from None
    started = not ray.is_initialized()
    if started:
        _init(ray, address, workers)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        if started:
            ray.shutdown()


def _init(ray: Any, address: str, workers: int | None) -> None:
    import logging

    quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(num_cpus=workers or os.cpu_count() or 1, **quiet)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise MixsearchError(f"cannot start or reach Ray at {address!r}: {err}") from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines


def _gpus(ray: Any, device: str) -> bool:
    return device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0


def _default_workers(ray: Any, gpus: bool) -> int:
    resources = ray.cluster_resources()
    return max(1, int(resources.get("GPU" if gpus else "CPU", 1)))


def _items(plan: ShardPlan, pending: list[int]) -> list[dict[str, Any]]:
    """One item per pending shard: its index and its documents (what encoding needs of them)."""
    return [
        {
            "shard": index,
            "documents": json.dumps(
                [
                    [doc.id, doc.text, str(doc.image) if doc.image is not None else None]
                    for doc in plan.shard_documents(index)
                ]
            ),
        }
        for index in pending
    ]


def _documents(encoded: str) -> list[Document]:
    return [
        Document(doc_id, text=text, image=Path(image) if image is not None else None)
        for doc_id, text, image in json.loads(encoded)
    ]


def _collect(dataset: Any, plan: ShardPlan, pending: list[int], writer: ShardWriter) -> None:
    """Gather result rows per shard; write each shard when its last document is back."""
    from mixsearch.shards.rows import from_batches

    expected = {index: len(plan.shard_documents(index)) for index in pending}
    parts: dict[int, list[dict[str, np.ndarray]]] = {index: [] for index in pending}
    arrived = dict.fromkeys(pending, 0)
    for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
        for index in np.unique(batch["shard"]):
            index = int(index)
            rows = batch["shard"] == index
            parts[index].append({key: value[rows] for key, value in batch.items()})
            arrived[index] += int(rows.sum())
            if arrived[index] == expected[index]:
                pieces = parts.pop(index)
                merged = {key: np.concatenate([p[key] for p in pieces]) for key in batch}
                writer(index, from_batches(merged["position"], merged))
    if parts:
        raise MixsearchError(f"Ray returned no result for {len(parts)} shard(s)")
