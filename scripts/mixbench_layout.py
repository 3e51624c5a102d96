"""Writing benchmark datasets in the MixBench layout (Li et al. 2025), shared by the build scripts.

A *subset folder* holds:

- ``queries.jsonl``: ``{"query_id", "text"}`` per line;
- ``corpus.jsonl``: ``{"corpus_id", "text", "image"}`` per line, every document with all its parts;
- ``mixed_corpus.jsonl``: the same documents with a modality assigned 1:1:1 (text-only, image-only,
  image+text) by a seeded shuffle; a document drops the field its modality lacks;
- ``qrels/qrels.tsv``: header ``query_id\\tcorpus_id\\tscore``, one relevant document per query;
- ``images/``: symlinks to the source images (never copies), so ``image`` paths stay relative to the
  subset folder while the pixels stay where the source put them.

Our builders write two sibling subsets, ``NAME/test`` (the benchmark) and ``NAME/fit`` (pairs for
fitting an alignment, disjoint from the test by source item), plus ``NAME/SOURCE.md``. The fit subset
also gets ``pairs.jsonl`` (``{"text", "image"}``): the (caption, image) pairs spelled out.

Every folder a build script writes (``NAME/``, each subset) holds a ``.mixsearch-dataset`` marker
file; a rebuild deletes an existing output folder only when it holds that marker (or is empty), and
otherwise stops with a one-line error instead (`replace_dataset_folder`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "mixsearch" / "datasets"
MODALITY_CYCLE = ("text", "image", "image+text")
# Written into every folder a build script makes; only folders holding it are ever deleted.
DATASET_MARKER = ".mixsearch-dataset"


class RefusedOutput(SystemExit):
    """An output folder that exists, is not empty and was not built by these scripts. A
    ``SystemExit`` so that a script stops with the one-line message (exit status 1)."""


def replace_dataset_folder(folder: Path, script: str) -> None:
    """Make ``folder`` a fresh, empty folder holding only ``DATASET_MARKER`` (naming ``script``).

    An existing folder is deleted only when it holds the marker (an earlier build of ours) or is
    empty; anything else (say a typo in ``--out`` naming the user's own data) raises
    `RefusedOutput` and leaves it untouched."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise RefusedOutput(
            f"{script}: error: {folder} is a file or a symbolic link, not a folder; not replacing it"
        )
    if folder.exists():
        if (folder / DATASET_MARKER).is_file():
            shutil.rmtree(folder)
        elif any(folder.iterdir()):
            raise RefusedOutput(
                f"{script}: error: {folder} is not empty and was not built by a mixsearch dataset "
                f"script (no {DATASET_MARKER} in it); remove it yourself or choose another --out"
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DATASET_MARKER).write_text(f"{script}\n", encoding="utf-8")


@dataclass
class BenchItem:
    """One source item: an image with the text describing it and the queries that should find it."""

    item_id: str
    image: Path
    doc_text: str
    queries: list[str]
    metadata: dict = field(default_factory=dict)


@dataclass
class SubsetCounts:
    queries: int
    documents: int
    modalities: dict[str, int]


def split_fit_test(
    item_ids: Iterable[str], fit_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Seeded split of source item ids into (test, fit), each sorted, so no image (nor its
    captions) is in both."""
    if not 0.0 <= fit_fraction < 1.0:
        raise ValueError(f"fit fraction must lie in [0, 1), got {fit_fraction}")
    order = sorted(set(item_ids))
    random.Random(seed).shuffle(order)
    n_fit = round(len(order) * fit_fraction)
    return sorted(order[n_fit:]), sorted(order[:n_fit])


def join_sentences(parts: Iterable[str]) -> str:
    """Join captions/descriptions into one text, ending each with a full stop where it has none."""
    out = []
    for part in parts:
        part = " ".join(part.split())
        if part:
            out.append(part if part[-1] in ".!?" else part + ".")
    return " ".join(out)


def assign_modalities(doc_ids: Sequence[str], seed: int) -> dict[str, str]:
    """1:1:1 text / image / image+text over a seeded shuffle (counts differ by at most one)."""
    order = sorted(doc_ids)
    random.Random(seed).shuffle(order)
    return {doc_id: MODALITY_CYCLE[i % 3] for i, doc_id in enumerate(order)}


def write_subset(
    folder: Path, items: Sequence[BenchItem], seed: int, write_pairs: bool = False
) -> SubsetCounts:
    """Write one subset folder (replacing an older one we wrote, see `replace_dataset_folder`)
    and return its counts."""
    replace_dataset_folder(folder, "mixbench_layout.write_subset")
    (folder / "qrels").mkdir()
    (folder / "images").mkdir()
    modalities = assign_modalities([item.item_id for item in items], seed)
    corpus, mixed, queries, qrels = [], [], [], []
    for item in items:
        image_rel = _link_image(folder, item)
        doc = {"corpus_id": item.item_id, "text": item.doc_text, "image": image_rel}
        corpus.append(doc)
        mixed.append(_drop_missing_part(doc, modalities[item.item_id]))
        for n, text in enumerate(item.queries):
            query_id = f"{item.item_id}-q{n}"
            queries.append({"query_id": query_id, "text": text})
            qrels.append((query_id, item.item_id))
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "mixed_corpus.jsonl", mixed)
    _write_jsonl(folder / "queries.jsonl", queries)
    _write_qrels(folder / "qrels" / "qrels.tsv", qrels)
    if write_pairs:
        pairs = [
            {"text": q, "image": doc["image"]}
            for item, doc in zip(items, corpus, strict=True)
            for q in item.queries
        ]
        _write_jsonl(folder / "pairs.jsonl", pairs)
    counts = {m: sum(1 for v in modalities.values() if v == m) for m in MODALITY_CYCLE}
    return SubsetCounts(len(queries), len(corpus), counts)


def write_source_md(path: Path, title: str, body: str, counts: dict[str, SubsetCounts]) -> None:
    lines = [f"# {title}", "", body.strip(), "", "## Counts", ""]
    for name, c in counts.items():
        mods = ", ".join(f"{m}: {n}" for m, n in c.modalities.items())
        lines.append(f"- `{name}/`: {c.queries} queries, {c.documents} documents ({mods})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def unique_queries(items: Iterable[BenchItem]) -> list[BenchItem]:
    """Drop items whose query text (case-folded) is shared with another item: with one relevant
    document per query, a query that describes two documents equally well would be mis-scored."""
    items = list(items)
    seen: dict[str, int] = {}
    for item in items:
        for q in item.queries:
            key = " ".join(q.casefold().split())
            seen[key] = seen.get(key, 0) + 1
    return [
        item
        for item in items
        if all(seen[" ".join(q.casefold().split())] == 1 for q in item.queries)
    ]


def _link_image(folder: Path, item: BenchItem) -> str:
    """Symlink the source image into ``images/`` under a flat, unique name; return its relative path."""
    safe_id = item.item_id.replace("/", "__")
    rel = Path("images") / f"{safe_id}{item.image.suffix.lower()}"
    os.symlink(item.image.resolve(), folder / rel)
    return rel.as_posix()


def _drop_missing_part(doc: dict, modality: str) -> dict:
    if modality == "text":
        return {"corpus_id": doc["corpus_id"], "text": doc["text"]}
    if modality == "image":
        return {"corpus_id": doc["corpus_id"], "image": doc["image"]}
    return dict(doc)


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_qrels(path: Path, qrels: Iterable[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("query_id\tcorpus_id\tscore\n")
        for query_id, corpus_id in qrels:
            f.write(f"{query_id}\t{corpus_id}\t1\n")
