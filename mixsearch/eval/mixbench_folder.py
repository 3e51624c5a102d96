"""Loading one MixBench subset from a local copy: the folder, its JSONL or parquet files, the hub.

`load_mixbench` finds the subset folder (the dataset root plus a subset name, or the folder
itself), fetches a missing copy from the Hugging Face hub when asked (`download_mixbench`), and
reads either the JSONL layout (``queries.jsonl``, ``mixed_corpus.jsonl``/``corpus.jsonl``,
``qrels/qrels.tsv``) or a later parquet release, whose embedded images are written once to
``PARQUET_IMAGE_CACHE``. The rows themselves are parsed by `mixsearch.eval.mixbench_rows`; the
result is a `MixBenchSubset` with every bad line listed in ``errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.mixbench_parquet import parquet_files, read_parquet_rows
from mixsearch.eval.mixbench_rows import (
    MixQuery,
    qrels_lines,
    read_corpus_jsonl,
    read_corpus_rows,
    read_jsonl,
    read_qrels,
    read_queries,
)

HUB_REPO = "mixed-modality-search/MixBench25"
SUBSETS = ("MSCOCO", "Google_WIT", "VisualNews", "OVEN")
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = Path("qrels") / "qrels.tsv"
CORPUS_FILES = ("mixed_corpus.jsonl", "corpus.jsonl")
PARQUET_SPLITS = {"query": "queries", "mixed": "mixed_corpus", "corpus": "corpus", "qrel": "qrels"}
PARQUET_IMAGE_CACHE = Path.home() / ".cache" / "mixsearch" / "mixbench-images"


@dataclass
class MixBenchSubset:
    """One subset as loaded: ``qrels[query_id][corpus_id] = grade``; bad lines in ``errors``."""

    name: str
    root: Path
    queries: list[MixQuery]
    documents: list[Document]
    qrels: dict[str, dict[str, float]]
    corpus_file: str
    errors: list[ItemError] = field(default_factory=list)


def load_mixbench(
    path: str | Path, subset: str | None = None, *, download: bool = False
) -> MixBenchSubset:
    """Load one subset from a local copy (the dataset root or the subset folder itself).

    With ``download=True`` a missing copy is fetched into ``path`` with huggingface_hub first.
    """
    folder = subset_folder(Path(path), subset, download)
    if not (folder / QUERIES_FILE).is_file() and parquet_files(folder):
        return _load_parquet_subset(folder)
    errors: list[ItemError] = []
    corpus_name = next((n for n in CORPUS_FILES if (folder / n).is_file()), None)
    if corpus_name is None or not (folder / QUERIES_FILE).is_file():
        raise MixsearchError(
            f"{folder}: not a MixBench subset folder (needs {QUERIES_FILE} and "
            f"{' or '.join(CORPUS_FILES)}, or the parquet files of a later release)"
        )
    if not (folder / QRELS_FILE).is_file():
        raise MixsearchError(f"{folder}: missing {QRELS_FILE}")
    queries = read_queries(folder, read_jsonl(folder / QUERIES_FILE, errors), QUERIES_FILE, errors)
    documents = read_corpus_jsonl(folder / corpus_name, folder, errors)
    qrels = read_qrels(
        qrels_lines(folder / QRELS_FILE),
        QRELS_FILE.name,
        {q.id for q in queries},
        {d.id for d in documents},
        errors,
    )
    return MixBenchSubset(folder.name, folder, queries, documents, qrels, corpus_name, errors)


def _load_parquet_subset(folder: Path) -> MixBenchSubset:
    files = parquet_files(folder)
    missing = [split for split in ("query", "corpus", "qrels") if split not in files]
    if missing:
        raise MixsearchError(
            f"{folder}: parquet files for {', '.join(missing)} not found (expected file names "
            "starting with query, corpus or mixed_corpus, and qrel)"
        )
    errors: list[ItemError] = []

    def rows(split: str) -> list[tuple[int, dict[str, Any]]]:
        return read_parquet_rows(files[split], split, str(folder), PARQUET_IMAGE_CACHE)

    corpus_name = files["corpus"][0].name
    queries = read_queries(folder, rows("query"), files["query"][0].name, errors)
    documents = read_corpus_rows(rows("corpus"), corpus_name, folder, errors)
    qrel_rows = [
        [str(r.get("query_id")), str(r.get("corpus_id")), str(r.get("score"))]
        for _, r in rows("qrels")
    ]
    qrels = read_qrels(
        qrel_rows,
        files["qrels"][0].name,
        {q.id for q in queries},
        {d.id for d in documents},
        errors,
    )
    return MixBenchSubset(folder.name, folder, queries, documents, qrels, corpus_name, errors)


def _is_subset_folder(folder: Path) -> bool:
    return (folder / QUERIES_FILE).is_file() or "query" in parquet_files(folder)


def subset_folder(path: Path, subset: str | None, download: bool) -> Path:
    if download and not _looks_downloaded(path, subset):
        download_mixbench(path, [subset] if subset else None)
    if subset is None:
        if _is_subset_folder(path):
            return path
        found = [s for s in SUBSETS if (path / s).is_dir()]
        raise MixsearchError(
            f"{path}: name a subset ({', '.join(found or SUBSETS)}) or pass the subset folder"
        )
    folder = path / subset
    if not folder.is_dir():
        if path.name == subset and _is_subset_folder(path):
            return path
        raise MixsearchError(
            f"{folder}: no such subset folder; download {HUB_REPO} and pass its folder "
            "(or add --download when online)"
        )
    return folder


def _looks_downloaded(path: Path, subset: str | None) -> bool:
    folder = path / subset if subset else path
    return _is_subset_folder(folder) or any((path / s).is_dir() for s in SUBSETS)


def download_mixbench(dest: str | Path, subsets: Sequence[str] | None = None) -> Path:
    """Fetch MixBench25 (or some subsets) from the Hugging Face hub into ``dest``."""
    remedy = (
        f"download the dataset {HUB_REPO} on a machine that is online "
        "(e.g. `huggingface-cli download --repo-type dataset "
        f"{HUB_REPO} --local-dir DIR`) and pass that folder"
    )
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MixsearchError(
            f"--download needs huggingface_hub (pip install 'mixsearch[hub]'); or {remedy}"
        ) from None
    patterns = [f"{s}/*" for s in subsets] if subsets else None
    try:
        snapshot_download(
            repo_id=HUB_REPO, repo_type="dataset", local_dir=str(dest), allow_patterns=patterns
        )
    except Exception as err:  # the hub raises many kinds (offline, HTTP, auth); all mean the same
        reason = " ".join(str(err).split())[:200]
        raise MixsearchError(f"could not download {HUB_REPO} ({reason}); {remedy}") from None
    return Path(dest)
