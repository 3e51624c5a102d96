"""`embed`: a corpus → a resumable folder of embedding shards, in-process or on Ray.

The driver reads the corpus, plans the shards (`plan.py`), checks the folder against an earlier
run of the same job (`manifest.py`) and hands the unfinished shards to a runner: this process
(no Ray import), or Ray Data actors (`ray_runner.py`, only when ``ray`` is given). Either way
each finished shard goes through one `ShardWriter`, so the files are the same.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixsearch.errors import ItemError, MixsearchError
from mixsearch.shards.files import (
    read_errors,
    remove_stale_temporaries,
    write_errors,
    write_shard,
)
from mixsearch.shards.manifest import (
    CORPUS_ERRORS,
    MANIFEST_NAME,
    build_manifest,
    check_same_job,
    errors_name,
    is_shards_folder,
    read_manifest,
    shard_name,
    write_json_atomic,
)
from mixsearch.shards.plan import DEFAULT_SHARD_SIZE, ShardPlan, plan_shards

if TYPE_CHECKING:
    from mixsearch.encoders.base import Encoder
    from mixsearch.shards.rows import EncodedRows

DEFAULT_ENCODER = "offline-default"


@dataclass
class EmbedReport:
    """What one `embed` run did. ``skipped``: shards finished by an earlier run (not re-encoded);
    ``encoded``: shards this run wrote; ``errors``: every per-item error of the folder (the corpus
    reader's, the skipped shards', this run's), worded as `index` reports them."""

    out: Path
    source: Path
    runner: str
    shards: int = 0
    documents: int = 0
    skipped: list[str] = field(default_factory=list)
    encoded: list[str] = field(default_factory=list)
    embedded: int = 0
    errors: list[ItemError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "source": str(self.source),
            "runner": self.runner,
            "shards": self.shards,
            "documents": self.documents,
            "skipped": self.skipped,
            "encoded": self.encoded,
            "embedded": self.embedded,
            "errors": [e.to_dict() for e in self.errors],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "run_id": self.run_id,
        }


class ShardWriter:
    """Writes each finished shard and keeps the run's account of it."""

    def __init__(self, out: Path, plan: ShardPlan, fingerprint: str, report: EmbedReport) -> None:
        self.out, self.plan, self.fingerprint, self.report = out, plan, fingerprint, report
        self.bar: Any = None

    def __call__(self, index: int, rows: EncodedRows) -> None:
        docs = self.plan.shard_documents(index)
        write_shard(
            self.out, index, docs, rows, fingerprint=self.fingerprint, run_id=self.report.run_id
        )
        self.report.encoded.append(shard_name(index))
        self.report.embedded += len(rows)
        self.report.errors += [err for _, err in rows.errors]
        if self.bar is not None:
            self.bar.update(len(docs))


def embed(
    source: str | Path,
    out: str | Path,
    *,
    encoder: str | Mapping[str, Any] | Encoder | None = DEFAULT_ENCODER,
    ray: str | None = None,
    workers: int | None = None,
    shard_size: int | None = None,
    cache: bool = True,
    progress: bool = False,
    device: str = "auto",
) -> EmbedReport:
    """Encode ``source`` (folder, JSONL, MixBench folder) into shards under ``out``.

    ``ray``: None runs in this process (Ray is not imported); ``"local"`` starts Ray on this
    machine; ``"auto"`` joins the running cluster; any other value is a cluster address
    (``ray://host:10001`` or ``host:6379``). ``workers``: encoder actors (default: one per CPU,
    or one per GPU when the cluster has GPUs). A rerun into the same ``out`` skips finished shards;
    another source, encoder or shard size there is refused. ``cache``: the embedding cache."""
    started = time.perf_counter()
    out = Path(out)
    earlier = read_manifest(out) if is_shards_folder(out) else None
    size = shard_size or (earlier["shard_size"] if earlier else DEFAULT_SHARD_SIZE)
    plan = plan_shards(source, size)
    instance, encoder_info = _load_encoder(encoder, device)
    manifest = build_manifest(plan, encoder_info)
    _prepare_folder(out, earlier, manifest, plan)
    report = EmbedReport(
        out=out,
        source=plan.source,
        runner="in-process" if ray is None else f"ray {ray}",
        shards=plan.shard_count,
        documents=len(plan.documents),
        errors=list(plan.errors),
        run_id=uuid.uuid4().hex[:12],
    )
    report.timings["plan"] = time.perf_counter() - started
    pending = [i for i in range(plan.shard_count) if not (out / shard_name(i)).is_file()]
    done = [i for i in range(plan.shard_count) if i not in set(pending)]
    report.skipped = [shard_name(i) for i in done]
    for index in done:  # the folder's whole account of bad items, not just this run's
        report.errors += read_errors(out / errors_name(index))
    writer = ShardWriter(out, plan, encoder_info["fingerprint"], report)
    t0 = time.perf_counter()
    with _progress(plan, pending, progress) as writer.bar:
        if ray is None:
            _run_in_process(instance, plan, pending, writer, cache)
        elif pending:
            from mixsearch.shards.ray_runner import run_on_ray

            run_on_ray(ray, plan, pending, writer, encoder_info, workers, cache, device)
    report.timings["encode"] = time.perf_counter() - t0
    return report


def _run_in_process(
    encoder: Encoder, plan: ShardPlan, pending: list[int], writer: ShardWriter, cache: bool
) -> None:
    from mixsearch.shards.rows import encode_rows

    embedding_cache = _cache(cache)
    for index in pending:
        writer(index, encode_rows(encoder, plan.shard_documents(index), embedding_cache))


def _cache(enabled: bool) -> Any:
    if not enabled:
        return None
    from mixsearch.encoders import EmbeddingCache, default_cache_dir

    return EmbeddingCache(default_cache_dir())


def _load_encoder(
    encoder: str | Mapping[str, Any] | Encoder | None, device: str
) -> tuple[Encoder, dict[str, Any]]:
    """The encoder, and what the manifest records of it (also what a Ray actor rebuilds it from)."""
    from mixsearch.encoders import create_encoder, fingerprint_id
    from mixsearch.encoders.factory import reopening_spec

    if encoder is None:
        encoder = DEFAULT_ENCODER
    spec = encoder if isinstance(encoder, str | Mapping) else None
    instance = create_encoder(spec, device=device) if spec is not None else encoder
    assert not isinstance(instance, str | Mapping)
    info = {
        "spec": reopening_spec(spec, instance),
        "fingerprint": fingerprint_id(instance),
        "detail": instance.fingerprint(),
        "dim": instance.dim,
    }
    return instance, info


def _prepare_folder(
    out: Path, earlier: dict[str, Any] | None, manifest: dict[str, Any], plan: ShardPlan
) -> None:
    """A new (or empty) folder gets the manifest; an earlier run's folder must be the same job."""
    if earlier is not None:
        check_same_job(out, earlier, manifest)
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MixsearchError(
            f"{out} exists and is not a shards folder (no {MANIFEST_NAME}): give a new or "
            "empty --out folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    write_errors(out / CORPUS_ERRORS, plan.errors)
    write_json_atomic(out / MANIFEST_NAME, manifest)


def _progress(plan: ShardPlan, pending: list[int], enabled: bool) -> Any:
    from tqdm.auto import tqdm

    total = sum(len(plan.shard_documents(i)) for i in pending)
    return tqdm(total=total, desc="embedding", unit="doc", disable=not enabled)
