"""MixBench rows → queries, documents and qrels, with each row's image resolved to a file.

Rows come from a JSONL file or a parquet split (`mixsearch.eval.mixbench_parquet` turns those into
the same dicts). A missing, null or empty ``text``/``image`` field means the item lacks that part;
ids may be strings or integers; a bad row becomes an `ItemError` naming its line, and the rest
loads. ``image`` names a file the way the authors' pipeline resolves it: relative to the subset
folder, then in ``images/``, then ``images/<file name>`` (`image_candidates`); when most of a
corpus's images are missing the load stops with one line saying where it looked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixsearch.documents import Document
from mixsearch.errors import ItemError, MixsearchError
from mixsearch.eval.embeddings_folder import is_number

IMAGE_DIR = "images"


@dataclass
class MixQuery:
    id: str
    text: str
    image: Path | None = None
    image_given: bool = False  # the row named an image (found or not)


def read_jsonl(path: Path, errors: list[ItemError]) -> list[tuple[int, dict[str, Any]]]:
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


def read_queries(
    folder: Path, rows: list[tuple[int, dict[str, Any]]], source: str, errors: list[ItemError]
) -> list[MixQuery]:
    """Queries with text; a query's own image is looked up but never makes it unusable."""
    queries: list[MixQuery] = []
    seen: set[str] = set()
    for lineno, obj in rows:
        item = f"{source} line {lineno}"
        qid, text = field(obj, "query_id"), field(obj, "text")
        reason = _id_problem(qid, seen) or (None if text else "query has no text")
        if reason:
            errors.append(ItemError(item if not qid else f"{item} (query {qid})", reason))
            continue
        seen.add(qid)  # type: ignore[arg-type]
        image_value = field(obj, "image")
        image = resolve_image(folder, image_value) if image_value else None
        queries.append(MixQuery(str(qid), str(text), image, image_value is not None))
    return queries


def read_corpus_jsonl(path: Path, folder: Path, errors: list[ItemError]) -> list[Document]:
    """Documents of a MixBench corpus file; images as absolute paths, checked to exist."""
    return read_corpus_rows(read_jsonl(path, errors), path.name, folder, errors)


def read_corpus_rows(
    rows: list[tuple[int, dict[str, Any]]], source: str, folder: Path, errors: list[ItemError]
) -> list[Document]:
    documents: list[Document] = []
    seen: set[str] = set()
    named, unresolved = 0, []
    for lineno, obj in rows:
        item = f"{source} line {lineno}"
        doc_id, text = field(obj, "corpus_id"), field(obj, "text")
        image, image_problem = image_path(folder, obj)
        named += field(obj, "image") is not None
        if image_problem:
            unresolved.append(field(obj, "image"))
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


def field(obj: dict[str, Any], name: str) -> str | None:
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


def image_path(folder: Path, obj: dict[str, Any]) -> tuple[Path | None, str | None]:
    rel = field(obj, "image")
    if rel is None:
        return None, None
    path = resolve_image(folder, rel)
    if path is None:
        return None, f"image file not found: {rel} (nor under {IMAGE_DIR}/)"
    return path, None


def qrels_lines(path: Path) -> list[list[str]]:
    """Fields of each line of a qrels.tsv (tab-separated, or whitespace when there is no tab)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") if "\t" in line else line.split() for line in lines]


def read_qrels(
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
