"""Fit data for MixBench: the pairs alignments are fitted on, always disjoint from the test set.

Fit data comes either from a held-out share of a subset's queries and their relevant documents
(`split_for_fit`) or from another source (`load_fit_data`: another MixBench-layout folder or a
JSONL of image/text pairs). `check_disjoint` is the guard that keeps alignment numbers honest: it
refuses to evaluate when fit data shares a document, a query or an image file with the test set,
since fitting on test items would reward memorising them.
"""

from __future__ import annotations

import dataclasses  # qualified: `field` below is the row reader's, not dataclasses'
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.mixbench_folder import MixBenchSubset, load_mixbench, subset_folder
from mixsearch.eval.mixbench_rows import field, image_path, read_corpus_jsonl, read_jsonl


@dataclass
class FitData:
    """Paired image/text items (and query texts) to fit alignments on, with where they came from.

    ``doc_ids``/``query_ids`` are only comparable with a test subset of the same ``root``.
    """

    images: list[Path]
    texts: list[str]
    query_texts: list[str]
    root: Path
    doc_ids: set[str] = dataclasses.field(default_factory=set)
    query_ids: set[str] = dataclasses.field(default_factory=set)
    errors: list[ItemError] = dataclasses.field(default_factory=list)


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
    judged = sorted(q.id for q in subset.queries if relevant(subset.qrels.get(q.id, {})))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(judged))
    n_fit = int(round(len(judged) * fraction))
    fit_qids = {judged[i] for i in order[:n_fit]}
    fit_dids = {d for q in fit_qids for d in relevant(subset.qrels[q])}
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


def relevant(qrels: dict[str, float]) -> list[str]:
    return [d for d, g in qrels.items() if g > 0]


def _fit_from_subset(subset: MixBenchSubset, query_ids: set[str], doc_ids: set[str]) -> FitData:
    full = _full_documents(subset)
    query_text = {q.id: q.text for q in subset.queries}
    text_for_doc = {d: query_text[q] for q in query_ids for d in relevant(subset.qrels[q])}
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
    folder = subset_folder(source, subset if (source / (subset or "")).is_dir() else None, False)
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
    for lineno, obj in read_jsonl(path, errors):
        text = field(obj, "text")
        image, problem = image_path(path.parent, obj)
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
