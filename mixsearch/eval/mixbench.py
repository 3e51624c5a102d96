"""MixBench (Li et al. 2025, hub dataset ``mixed-modality-search/MixBench25``) on local files.

Layout of one subset folder (MSCOCO, Google_WIT, VisualNews, OVEN)::

    SUBSET/queries.jsonl        {"query_id", "text", "image"?}   (OVEN queries carry an image)
    SUBSET/corpus.jsonl         {"corpus_id", "text", "image"}   every document image+text
    SUBSET/mixed_corpus.jsonl   same ids; text-only, image-only and image+text documents 1:1:1
    SUBSET/qrels/qrels.tsv      header "query_id corpus_id score"; one relevant document per query

``image`` names a file the way the authors' pipeline resolves it (``src/extract_embedding_clip.py``
joins it to ``SUBSET/images/``): we look relative to the subset folder, then in ``SUBSET/images/``,
then for ``SUBSET/images/<file name>`` (other tools keep only the base name), so bare names,
``images/…`` prefixes and absolute paths all load. When most of a corpus's images are missing the
load stops with one line saying where it looked (the images were not downloaded), instead of
silently dropping every image document. A missing, null or empty ``text``/``image`` field means
the item lacks that part; ids may be strings or integers. ``mixed_corpus.jsonl`` is the
benchmark's corpus when present.

The later parquet releases (MixBench2025/2026: ``*.parquet`` files per split — ``query``,
``corpus``/``mixed_corpus``, ``qrel`` — with ``id``/``query_id``/``corpus_id``, ``text`` and
``image`` as bytes or a path) are read with pyarrow (``pip install 'mixsearch[parquet]'``); their
embedded images are written once to ``~/.cache/mixsearch/mixbench-images`` (content-addressed).

Evaluation (`run_mixbench`) encodes everything once, writes a precomputed-embedding folder (so a
result is reproducible and re-running other methods is cheap) and runs
`mixsearch.eval.embeddings.run_embeddings_benchmark` on it. Alignments and means are fitted only
on data disjoint from the test queries and corpus — another folder (``fit=``) or a held-out half
(``fit_split=``) — and `check_disjoint` enforces it before anything is encoded.

Query images (OVEN's queries are image+text) are not used — the engine's queries are text — and
never make a query unusable, found or not; the results say how many queries had one and that they
were not used (``query_images``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.embeddings import (
    DEFAULT_METHODS,
    is_number,
    run_embeddings_benchmark,
    save_embeddings_dir,
)
from mixsearch.eval.mixbench_parquet import parquet_files, read_parquet_rows
from mixsearch.fusion import DEFAULT_ALPHA

logger = logging.getLogger(__name__)

HUB_REPO = "mixed-modality-search/MixBench25"
SUBSETS = ("MSCOCO", "Google_WIT", "VisualNews", "OVEN")
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = Path("qrels") / "qrels.tsv"
CORPUS_FILES = ("mixed_corpus.jsonl", "corpus.jsonl")
IMAGE_DIR = "images"
PARQUET_SPLITS = {"query": "queries", "mixed": "mixed_corpus", "corpus": "corpus", "qrel": "qrels"}
PARQUET_IMAGE_CACHE = Path.home() / ".cache" / "mixsearch" / "mixbench-images"


@dataclass
class MixQuery:
    id: str
    text: str
    image: Path | None = None
    image_given: bool = False  # the row named an image (found or not)


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


@dataclass
class FitData:
    """Paired image/text items (and query texts) to fit alignments on, with where they came from.

    ``doc_ids``/``query_ids`` are only comparable with a test subset of the same ``root``.
    """

    images: list[Path]
    texts: list[str]
    query_texts: list[str]
    root: Path
    doc_ids: set[str] = field(default_factory=set)
    query_ids: set[str] = field(default_factory=set)
    errors: list[ItemError] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Loading


def load_mixbench(
    path: str | Path, subset: str | None = None, *, download: bool = False
) -> MixBenchSubset:
    """Load one subset from a local copy (the dataset root or the subset folder itself).

    With ``download=True`` a missing copy is fetched into ``path`` with huggingface_hub first.
    """
    folder = _subset_folder(Path(path), subset, download)
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
    queries = _read_queries(
        folder, _read_jsonl(folder / QUERIES_FILE, errors), QUERIES_FILE, errors
    )
    documents = read_corpus_jsonl(folder / corpus_name, folder, errors)
    qrels = _read_qrels(
        _qrels_lines(folder / QRELS_FILE),
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
    queries = _read_queries(folder, rows("query"), files["query"][0].name, errors)
    documents = _read_corpus_rows(rows("corpus"), corpus_name, folder, errors)
    qrel_rows = [
        [str(r.get("query_id")), str(r.get("corpus_id")), str(r.get("score"))]
        for _, r in rows("qrels")
    ]
    qrels = _read_qrels(
        qrel_rows,
        files["qrels"][0].name,
        {q.id for q in queries},
        {d.id for d in documents},
        errors,
    )
    return MixBenchSubset(folder.name, folder, queries, documents, qrels, corpus_name, errors)


def _is_subset_folder(folder: Path) -> bool:
    return (folder / QUERIES_FILE).is_file() or "query" in parquet_files(folder)


def _subset_folder(path: Path, subset: str | None, download: bool) -> Path:
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


def _read_jsonl(path: Path, errors: list[ItemError]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each good line; bad lines are reported and skipped."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                errors.append(ItemError(f"{path.name} line {lineno}", f"bad JSON ({err.msg})"))
                continue
            if not isinstance(obj, dict):
                errors.append(ItemError(f"{path.name} line {lineno}", "not a JSON object"))
                continue
            rows.append((lineno, obj))
    return rows


def _read_queries(
    folder: Path, rows: list[tuple[int, dict[str, Any]]], source: str, errors: list[ItemError]
) -> list[MixQuery]:
    """Queries with text; a query's own image is looked up but never makes it unusable."""
    queries: list[MixQuery] = []
    seen: set[str] = set()
    for lineno, obj in rows:
        item = f"{source} line {lineno}"
        qid, text = _field(obj, "query_id"), _field(obj, "text")
        reason = _id_problem(qid, seen) or (None if text else "query has no text")
        if reason:
            errors.append(ItemError(item if not qid else f"{item} (query {qid})", reason))
            continue
        seen.add(qid)  # type: ignore[arg-type]
        image_value = _field(obj, "image")
        image = resolve_image(folder, image_value) if image_value else None
        queries.append(MixQuery(str(qid), str(text), image, image_value is not None))
    return queries


def read_corpus_jsonl(path: Path, folder: Path, errors: list[ItemError]) -> list[Document]:
    """Documents of a MixBench corpus file; images as absolute paths, checked to exist."""
    return _read_corpus_rows(_read_jsonl(path, errors), path.name, folder, errors)


def _read_corpus_rows(
    rows: list[tuple[int, dict[str, Any]]], source: str, folder: Path, errors: list[ItemError]
) -> list[Document]:
    documents: list[Document] = []
    seen: set[str] = set()
    named, unresolved = 0, []
    for lineno, obj in rows:
        item = f"{source} line {lineno}"
        doc_id, text = _field(obj, "corpus_id"), _field(obj, "text")
        image, image_problem = _image_path(folder, obj)
        named += _field(obj, "image") is not None
        if image_problem:
            unresolved.append(_field(obj, "image"))
        reason = _id_problem(doc_id, seen) or image_problem
        if not reason and text is None and image is None:
            reason = "document has neither text nor image"
        if reason:
            errors.append(ItemError(item if not doc_id else f"{item} (doc {doc_id})", reason))
            continue
        seen.add(doc_id)  # type: ignore[arg-type]
        documents.append(Document(str(doc_id), text, image, {"line": lineno}))
    _check_most_images_found(folder, source, named, unresolved)
    return documents


def _check_most_images_found(
    folder: Path, source: str, named: int, unresolved: list[str | None]
) -> None:
    """One line instead of a corpus silently stripped of its images (they were not downloaded,
    or live somewhere else)."""
    if named and 2 * len(unresolved) > named:
        raise MixsearchError(
            f"{folder / source}: {len(unresolved)} of {named} images not found (e.g. "
            f"{unresolved[0]!r}); looked in {folder}/, {folder / IMAGE_DIR}/ and "
            f"{folder / IMAGE_DIR}/<file name> — are the subset's images downloaded?"
        )


def _field(obj: dict[str, Any], name: str) -> str | None:
    """A string field; absent, null or empty means the item lacks it."""
    value = obj.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _id_problem(item_id: str | None, seen: set[str]) -> str | None:
    if item_id is None:
        return "missing id"
    if item_id in seen:
        return f"duplicate id {item_id!r}"
    return None


def image_candidates(folder: Path, value: str) -> list[Path]:
    """Where a row's ``image`` value may point, in the order tried: relative to the subset
    folder, inside its ``images/`` folder (the authors' pipeline), ``images/<file name>``."""
    rel = Path(value)
    return [folder / rel, folder / IMAGE_DIR / rel, folder / IMAGE_DIR / rel.name]


def resolve_image(folder: Path, value: str) -> Path | None:
    return next((p.resolve() for p in image_candidates(folder, value) if p.is_file()), None)


def _image_path(folder: Path, obj: dict[str, Any]) -> tuple[Path | None, str | None]:
    rel = _field(obj, "image")
    if rel is None:
        return None, None
    path = resolve_image(folder, rel)
    if path is None:
        return None, f"image file not found: {rel} (nor under {IMAGE_DIR}/)"
    return path, None


def _qrels_lines(path: Path) -> list[list[str]]:
    """Fields of each line of a qrels.tsv (tab-separated, or whitespace when there is no tab)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") if "\t" in line else line.split() for line in lines]


def _read_qrels(
    lines: list[list[str]],
    source: str,
    query_ids: set[str],
    doc_ids: set[str],
    errors: list[ItemError],
) -> dict[str, dict[str, float]]:
    """{query id: {doc id: grade}}; a first line whose score is not a number is a header."""
    qrels: dict[str, dict[str, float]] = {}
    for lineno, fields in enumerate(lines, start=1):
        fields = [f.strip() for f in fields]
        if not any(fields) or (lineno == 1 and len(fields) == 3 and not is_number(fields[2])):
            continue
        item = f"{source} line {lineno}"
        if len(fields) != 3:
            errors.append(ItemError(item, f"expected 3 fields, got {len(fields)}"))
            continue
        qid, did, score = fields
        if not is_number(score):
            errors.append(ItemError(item, f"score {score!r} is not a number"))
            continue
        if qid not in query_ids or did not in doc_ids:
            missing = f"query {qid}" if qid not in query_ids else f"doc {did}"
            errors.append(ItemError(item, f"{missing} was not loaded; judgement skipped"))
            continue
        qrels.setdefault(qid, {})[did] = float(score)
    return qrels


# ---------------------------------------------------------------------------------------------
# Fit data: held-out split or another source, always disjoint from the test set


def split_for_fit(
    subset: MixBenchSubset, fraction: float, seed: int = 0
) -> tuple[FitData, MixBenchSubset]:
    """Split query/relevant-document pairs into a fit part and a test part.

    A share ``fraction`` of the queries (chosen by ``seed``) and their relevant documents become
    fit data: pairs (document image, document text) — a part the mixed corpus dropped is taken
    from ``corpus.jsonl`` when present, else the query's text stands in for the missing text —
    plus those queries' texts for the query mean. The test part keeps the other queries and the
    corpus without the fit documents.
    """
    if not 0.0 < fraction < 1.0:
        raise MixsearchError(f"--fit-split must lie strictly between 0 and 1, got {fraction}")
    judged = sorted(q.id for q in subset.queries if _relevant(subset.qrels.get(q.id, {})))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(judged))
    n_fit = int(round(len(judged) * fraction))
    fit_qids = {judged[i] for i in order[:n_fit]}
    fit_dids = {d for q in fit_qids for d in _relevant(subset.qrels[q])}
    fit = _fit_from_subset(subset, fit_qids, fit_dids)
    test = MixBenchSubset(
        name=subset.name,
        root=subset.root,
        queries=[q for q in subset.queries if q.id not in fit_qids],
        documents=[d for d in subset.documents if d.id not in fit_dids],
        qrels={q: r for q, r in subset.qrels.items() if q not in fit_qids},
        corpus_file=subset.corpus_file,
        errors=list(subset.errors),
    )
    return fit, test


def _relevant(qrels: dict[str, float]) -> list[str]:
    return [d for d, g in qrels.items() if g > 0]


def _fit_from_subset(subset: MixBenchSubset, query_ids: set[str], doc_ids: set[str]) -> FitData:
    full = _full_documents(subset)
    query_text = {q.id: q.text for q in subset.queries}
    text_for_doc = {d: query_text[q] for q in query_ids for d in _relevant(subset.qrels[q])}
    fit = FitData(
        [],
        [],
        [query_text[q] for q in sorted(query_ids)],
        subset.root,
        set(doc_ids),
        set(query_ids),
    )
    for doc in subset.documents:
        if doc.id not in doc_ids:
            continue
        whole = full.get(doc.id, doc)
        image = doc.image or whole.image
        text = doc.text or whole.text or text_for_doc.get(doc.id)
        if image is not None and text is not None:
            fit.images.append(image)
            fit.texts.append(text)
    return fit


def _full_documents(subset: MixBenchSubset) -> dict[str, Document]:
    """The image+text versions from corpus.jsonl when the benchmark read the mixed corpus."""
    path = subset.root / "corpus.jsonl"
    if subset.corpus_file == "corpus.jsonl" or not path.is_file():
        return {}
    return {d.id: d for d in read_corpus_jsonl(path, subset.root, [])}


def load_fit_data(path: str | Path, subset: str | None = None) -> FitData:
    """Fit pairs from another MixBench-layout folder or a JSONL of {"image", "text"} lines.

    From a MixBench folder every document with both parts (in ``corpus.jsonl`` when present) is
    a pair and every query text feeds the query mean. JSONL image paths are relative to the file.
    """
    source = Path(path)
    if source.is_file():
        return _fit_from_jsonl(source)
    folder = _subset_folder(source, subset if (source / (subset or "")).is_dir() else None, False)
    other = load_mixbench(folder)
    full = _full_documents(other) or {d.id: d for d in other.documents}
    fit = FitData(
        [],
        [],
        [q.text for q in other.queries],
        other.root,
        set(full),
        {q.id for q in other.queries},
        list(other.errors),
    )
    for doc in full.values():
        if doc.image is not None and doc.text is not None:
            fit.images.append(doc.image)
            fit.texts.append(doc.text)
    return fit


def _fit_from_jsonl(path: Path) -> FitData:
    errors: list[ItemError] = []
    fit = FitData([], [], [], path.parent.resolve(), errors=errors)
    for lineno, obj in _read_jsonl(path, errors):
        text = _field(obj, "text")
        image, problem = _image_path(path.parent, obj)
        if problem or image is None or text is None:
            errors.append(
                ItemError(
                    f"{path.name} line {lineno}",
                    problem or "a fit pair needs both 'image' and 'text'",
                )
            )
            continue
        fit.images.append(image)
        fit.texts.append(text)
    return fit


def check_disjoint(fit: FitData, test: MixBenchSubset) -> None:
    """Refuse to evaluate when fit data shares an item or an image file with the test set.

    This is the guard that keeps alignment numbers honest: fitting on test items would reward
    memorising them. Ids are compared when both come from the same folder; image files always.
    """
    problems = []
    if fit.root.resolve() == test.root.resolve():
        shared_docs = fit.doc_ids & {d.id for d in test.documents}
        shared_queries = fit.query_ids & {q.id for q in test.queries}
        if shared_docs:
            problems.append(f"{len(shared_docs)} documents (e.g. {sorted(shared_docs)[0]})")
        if shared_queries:
            problems.append(f"{len(shared_queries)} queries (e.g. {sorted(shared_queries)[0]})")
    test_images = {p.resolve() for p in _test_images(test)}
    shared_images = test_images.intersection(p.resolve() for p in fit.images)
    if shared_images:
        problems.append(f"{len(shared_images)} image files (e.g. {sorted(shared_images)[0]})")
    if problems:
        raise MixsearchError(
            "fit data overlaps the test set: "
            + ", ".join(problems)
            + "; fit on a disjoint folder (--fit) or a held-out split (--fit-split)"
        )


def _test_images(test: MixBenchSubset) -> list[Path]:
    images = [d.image for d in test.documents if d.image is not None]
    return images + [q.image for q in test.queries if q.image is not None]


# ---------------------------------------------------------------------------------------------
# Running the benchmark with an encoder


def run_mixbench(
    subset: MixBenchSubset,
    encoder: Any,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    fit: FitData | None = None,
    fit_split: float | None = None,
    seed: int = 0,
    out_dir: str | Path,
    alpha: float = DEFAULT_ALPHA,
    k: int = 10,
    splits: int = 5,
    refit_cv: bool = False,
    batch_size: int = 32,
    progress: bool = False,
    cache: Any = None,
) -> dict[str, Any]:
    """Encode ``subset`` (and fit data), write ``out_dir/embeddings``, compare ``methods``.

    Exactly one of ``fit`` (from `load_fit_data`) and ``fit_split`` must be given; the test set
    never contributes to fitting (`check_disjoint`).
    """
    if (fit is None) == (fit_split is None):
        raise MixsearchError(
            "give exactly one fit source: --fit PATH (disjoint data) or --fit-split FRACTION; "
            "alignments are never fitted on the test set"
        )
    test = subset
    if fit_split is not None:
        fit, test = split_for_fit(subset, fit_split, seed)
    assert fit is not None
    check_disjoint(fit, test)
    emb_dir = Path(out_dir) / "embeddings"
    errors = list(test.errors) + list(fit.errors)
    encode_to_dir(test, fit, encoder, emb_dir, batch_size, progress, cache, errors)
    results = run_embeddings_benchmark(
        emb_dir, methods, alpha=alpha, k=k, splits=splits, seed=seed, refit_cv=refit_cv
    )
    results["dataset"] = {
        "subset": subset.name,
        "corpus_file": subset.corpus_file,
        "fit": "split" if fit_split is not None else str(fit.root),
        "fit_split": fit_split,
        "n_fit_images": len(fit.images),
    }
    results["query_images"] = {
        "queries_with_image": sum(q.image_given for q in test.queries),
        "found": sum(q.image is not None for q in test.queries),
        "used": False,
        "note": "queries are encoded from their text only",
    }
    results["errors"] = [e.to_dict() for e in errors] + results["errors"]
    return results


def encode_to_dir(
    test: MixBenchSubset,
    fit: FitData,
    encoder: Any,
    out: Path,
    batch_size: int,
    progress: bool,
    cache: Any,
    errors: list[ItemError],
) -> Path:
    """Encode test queries/documents and fit pairs into a precomputed-embedding folder.

    Documents and fit pairs go through `encode_documents`, the encoding step of `Engine.add`:
    the same vectors, and a document whose image fails is dropped with the same error."""
    docs, doc_text, doc_image = _encode_documents(
        encoder, test.documents, batch_size, progress, cache, errors, "documents"
    )
    modality = np.array([int(d.modality) for d in docs], dtype=np.int8)
    doc_index = {d.id: i for i, d in enumerate(docs)}
    queries = [
        q for q in test.queries if any(d in doc_index for d in _relevant(test.qrels.get(q.id, {})))
    ]
    qrels = [
        {doc_index[d]: g for d, g in test.qrels[q.id].items() if d in doc_index} for q in queries
    ]
    query_vecs = _encode_texts(encoder, [q.text for q in queries], batch_size, progress, "queries")
    pairs = [
        Document(id=str(i), text=text, image=image)
        for i, (image, text) in enumerate(zip(fit.images, fit.texts, strict=True))
    ]
    _, fit_text, fit_image = _encode_documents(
        encoder, pairs, batch_size, progress, cache, errors, "fit pairs"
    )
    fit_query = (
        _encode_texts(encoder, fit.query_texts, batch_size, progress, "fit queries")
        if fit.query_texts
        else None
    )
    meta = {
        "subset": test.name,
        "encoder": getattr(encoder, "name", type(encoder).__name__),
        "doc_ids": [d.id for d in docs],
        "query_ids": [q.id for q in queries],
        "doc_modality_note": "0 text, 1 image, 2 image+text",
    }
    return save_embeddings_dir(
        out,
        queries=query_vecs,
        doc_text=doc_text,
        doc_image=doc_image,
        doc_modality=modality,
        qrels=qrels,
        fit_image=fit_image,
        fit_text=fit_text,
        fit_query=fit_query,
        meta=meta,
    )


def _encode_documents(
    encoder: Any,
    docs: list[Document],
    batch_size: int,
    progress: bool,
    cache: Any,
    errors: list[ItemError],
    what: str,
) -> tuple[list[Document], np.ndarray, np.ndarray]:
    """The documents that encoded, with text and image vectors row-aligned to them (zero rows
    where a part is absent, as the embedding folder expects); failures are added to ``errors``."""
    from mixsearch.document_encoding import encode_documents

    if progress:
        logger.info("encoding %d %s", len(docs), what)
    raw = encode_documents(encoder, docs, progress=progress, cache=cache, batch_size=batch_size)
    errors.extend(raw.errors)
    rows, dim = len(raw.documents), int(encoder.dim)
    text = raw.text if raw.text is not None else np.zeros((rows, dim), np.float32)
    image = raw.image if raw.image is not None else np.zeros((rows, dim), np.float32)
    return raw.documents, text, image


def _encode_texts(
    encoder: Any, texts: list[str], batch_size: int, progress: bool, what: str
) -> np.ndarray:
    if not texts:
        return np.zeros((0, int(encoder.dim)), dtype=np.float32)
    if progress:
        logger.info("encoding %d %s", len(texts), what)
    vectors = encoder.encode_texts(texts, batch_size=batch_size, progress=progress)
    return np.asarray(vectors, dtype=np.float32)
