"""Corpus readers: a folder, a JSONL file, or a MixBench subset folder → documents + per-item errors.

Every reader returns a `CorpusRead`: the good documents, in a stable order, and one `ItemError` per
bad item (duplicate id, missing image file, empty document, bad JSON line…). A bad item never stops
the rest. Image *contents* are checked later, when they are decoded for encoding.

Folder rules: images (jpg/jpeg/png/webp/gif/bmp/tif/tiff/svg/svgz) and text files (.txt/.md),
searched recursively. An image with a same-stem .txt beside it is ONE image+text document. Document
ids are paths relative to the folder (the image's path for image+text documents), so they are
unique; documents keep their image's absolute path, so hits resolve from any directory. SVG files become image documents like any other: the image loader rasterises them when
``cairosvg`` is installed and otherwise reports a per-file error with the reason. Files with any
other suffix are not documents and not errors either: they are listed in ``CorpusRead.ignored`` so
the caller can say how many were left out. Hidden files and folders (a name starting with ".")
are skipped without being listed. Unreadable subfolders, FIFOs, device files, broken symlinks
and names that are not valid UTF-8 are skipped and listed as per-item errors.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixsearch.documents import Document, is_utf8
from mixsearch.errors import ItemError, ItemLoadError, MixsearchError

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".svg", ".svgz"}
)
TEXT_SUFFIXES = frozenset({".txt", ".md"})
MIXBENCH_CORPUS_FILES = ("mixed_corpus.jsonl", "corpus.jsonl")


@dataclass
class CorpusRead:
    """What a reader found: good documents, one error per bad item, and the files it ignored.

    ``ignored``: paths (relative to the folder, "/"-separated, sorted) of files a folder reader
    skipped because their suffix is neither an image nor a text suffix (e.g. ``.csv``, ``.json``,
    ``.pdf``). They are not errors; hidden files are not listed. Always empty for JSONL and MixBench
    corpora, whose documents name their files explicitly.
    """

    documents: list[Document] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_corpus(source: str | Path) -> CorpusRead:
    """Read a folder, a ``.jsonl`` file, or a MixBench subset folder (auto-detected)."""
    source = Path(source)
    if not source.exists():
        raise MixsearchError(f"corpus {source} does not exist")
    if source.is_file():
        if source.suffix != ".jsonl":
            raise MixsearchError(f"corpus file {source} must be a .jsonl file (or give a folder)")
        return read_jsonl(source)
    if is_mixbench_folder(source):
        return read_mixbench_corpus(source)
    return read_folder(source)


def is_mixbench_folder(path: Path) -> bool:
    has_corpus = any((path / name).is_file() for name in MIXBENCH_CORPUS_FILES)
    has_qrels = (path / "qrels" / "qrels.tsv").is_file()
    return has_corpus and has_qrels and (path / "queries.jsonl").is_file()


def read_folder(root: str | Path) -> CorpusRead:
    from mixsearch.encoders.images import read_text_file

    root = Path(root)
    out = CorpusRead()
    files = _regular_files(root, out.errors)
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    texts = {p for p in files if p.suffix.lower() in TEXT_SUFFIXES}
    out.ignored = [
        p.relative_to(root).as_posix()
        for p in files
        if p.suffix.lower() not in IMAGE_SUFFIXES | TEXT_SUFFIXES
    ]
    for image in images:
        caption_file = image.with_suffix(".txt")
        caption = None
        if caption_file in texts:
            texts.discard(caption_file)
            caption = _read_text_or_record(read_text_file, caption_file, root, out.errors)
        doc_id = image.relative_to(root).as_posix()
        out.documents.append(Document(doc_id, text=caption, image=Path(os.path.abspath(image))))
    for text_file in sorted(texts):
        text = _read_text_or_record(read_text_file, text_file, root, out.errors)
        if text is not None:
            out.documents.append(Document(text_file.relative_to(root).as_posix(), text=text))
    return out


def _regular_files(root: Path, errors: list[ItemError]) -> list[Path]:
    """Every regular, non-hidden file under ``root``, sorted; whatever cannot be a document
    (an unreadable folder, a FIFO, a device, a broken link, an undecodable name) is an error."""

    def unreadable(err: OSError) -> None:
        where = _relative(Path(err.filename or root), root) or "."
        errors.append(ItemError(where, f"folder skipped: {err.strerror or err}"))

    found = []
    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            problem = _not_a_document_file(path, name)
            if problem is None:
                found.append(path)
            else:
                errors.append(ItemError(_relative(path, root), problem))
    return sorted(found)


def _not_a_document_file(path: Path, name: str) -> str | None:
    if not is_utf8(name):
        return "skipped: the file name is not valid UTF-8 (rename it)"
    try:
        mode = path.stat().st_mode
    except OSError as err:
        return f"skipped: {err.strerror or err} (a broken or looping link?)"
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a device file", stat.S_ISBLK: "a device file"}
    kind = next((k for test, k in kinds.items() if test(mode)), None)
    if kind is None:
        return None if stat.S_ISDIR(mode) else "skipped: not a regular file"
    return f"skipped: {kind}, not a regular file"


def _relative(path: Path, root: Path) -> str:
    """A path for messages: relative to the folder, undecodable bytes shown escaped."""
    rel = path.relative_to(root).as_posix() if path != root else ""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def read_jsonl(path: str | Path, *, id_field: str = "id") -> CorpusRead:
    """One document per line: ``id``, optional ``text``, ``image`` (relative to the file), ``metadata``."""
    path = Path(path)
    out = CorpusRead()
    seen: set[str] = set()
    for line_no, row in _json_lines(path, out.errors):
        item = f"{path.name}:{line_no}"
        try:
            doc = _document_from_row(row, path.parent, id_field)
        except ItemLoadError as err:
            out.errors.append(ItemError(f"{item} ({err.item})" if err.item else item, err.reason))
            continue
        if doc.id in seen:
            out.errors.append(ItemError(f"{item} (id {doc.id!r})", "duplicate document id"))
            continue
        seen.add(doc.id)
        out.documents.append(doc)
    return out


def read_mixbench_corpus(folder: str | Path) -> CorpusRead:
    """The documents of a MixBench subset (``mixed_corpus.jsonl`` preferred, else ``corpus.jsonl``)."""
    folder = Path(folder)
    for name in MIXBENCH_CORPUS_FILES:
        if (folder / name).is_file():
            return read_jsonl(folder / name, id_field="corpus_id")
    raise MixsearchError(f"{folder} has neither {' nor '.join(MIXBENCH_CORPUS_FILES)}")


def _document_from_row(row: Any, base: Path, id_field: str) -> Document:
    if not isinstance(row, dict):
        raise ItemLoadError("", "line is not a JSON object")
    doc_id = row.get(id_field)
    if doc_id is None or str(doc_id).strip() == "":
        raise ItemLoadError("", f"missing {id_field!r}")
    doc_id = str(doc_id)
    if not is_utf8(doc_id):
        raise ItemLoadError(f"id {doc_id!r}", "the id is not valid Unicode (a lone surrogate)")
    text = row.get("text")
    if text is not None and not isinstance(text, str):
        raise ItemLoadError(f"id {doc_id!r}", "'text' must be a string")
    if text is not None and not is_utf8(text):
        raise ItemLoadError(f"id {doc_id!r}", "'text' is not valid Unicode (a lone surrogate)")
    text = text if text and text.strip() else None
    image = _resolve_image(row.get("image"), base, doc_id)
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ItemLoadError(f"id {doc_id!r}", "'metadata' must be a JSON object")
    if text is None and image is None:
        raise ItemLoadError(f"id {doc_id!r}", "empty document: no text and no image")
    return Document(doc_id, text=text, image=image, metadata=metadata)


def _resolve_image(value: Any, base: Path, doc_id: str) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemLoadError(f"id {doc_id!r}", "'image' must be a path string")
    try:
        image = (base / value).resolve()
        found = image.is_file()
    except (OSError, RuntimeError, ValueError) as err:  # a symlink loop, an unencodable name
        raise ItemLoadError(f"id {doc_id!r}", f"image path unusable: {value!r} ({err})") from None
    if not found:
        raise ItemLoadError(f"id {doc_id!r}", f"image file not found: {value}")
    return image


def _json_lines(path: Path, errors: list[ItemError]) -> Iterator[tuple[int, Any]]:
    # Read bytes and decode per line, so one undecodable line is reported and the rest proceed.
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as err:
        raise MixsearchError(f"cannot read {path}: {err.strerror}") from None
    for line_no, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as err:
            errors.append(
                ItemError(f"{path.name}:{line_no}", f"not valid UTF-8 at byte {err.start}")
            )
            continue
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line, parse_constant=_refuse_constant)
        except json.JSONDecodeError as err:
            errors.append(ItemError(f"{path.name}:{line_no}", f"bad JSON: {err.msg}"))
        except ValueError as err:
            errors.append(ItemError(f"{path.name}:{line_no}", f"bad JSON: {err}"))
        except RecursionError:
            errors.append(ItemError(f"{path.name}:{line_no}", "bad JSON: nested too deeply"))


def _refuse_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; stored, they would make every later --where on the store fail
    raise ValueError(f"{name} is not a JSON number")


def _read_text_or_record(read, path: Path, root: Path, errors: list[ItemError]) -> str | None:
    try:
        return read(path)
    except ItemLoadError as err:
        errors.append(ItemError(path.relative_to(root).as_posix(), err.reason))
        return None
