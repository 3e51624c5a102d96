"""Build "coco-mini as a folder": real photos and captions laid out as a user's corpus folder.

As the store issue words it: every photo with one caption is an image+text document, plus some
photo-only and caption-only documents. Output (default ``~/.cache/mixsearch/datasets/
coco-mini-folder``, or ``...-folder-N`` with ``--limit N``)::

    OUT/corpus/PHOTO.jpg + PHOTO.txt   image+text: every photo (symlink) with its first caption
    OUT/corpus/PHOTO-photo.jpg         image-only: the same photo again, for a seeded third
    OUT/corpus/PHOTO-caption.txt       text-only: the photo's third caption, for another third
    OUT/corpus.jsonl                   the same documents: {"id","text","image","metadata"},
                                       image relative to the file
    OUT/queries.jsonl                  {"query", "folder_id", "jsonl_id"}: the second caption of
                                       each photo (never a document's own text) and its
                                       image+text document

Photos are symlinks to the source (never copied); the thirds come from a seeded shuffle.
``OUT/.mixsearch-dataset`` marks the folder as built here: a rebuild replaces OUT only when it holds
that marker (or is empty), and otherwise stops with a one-line error, never deleting other data.
``folder_id`` is the document id the folder reader assigns (the path relative to ``corpus/``).

    python scripts/build_coco_folder.py [--src ../shared/data/coco-mini] [--limit 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_coco_mini import DEFAULT_SRC, photo_id, read_photos  # noqa: E402
from mixbench_layout import DEFAULT_CACHE, assign_modalities, replace_dataset_folder  # noqa: E402


def build(src: Path, out: Path, limit: int | None = None, seed: int = 0) -> dict:
    """Write the folder, corpus.jsonl and queries.jsonl; returns counts and skipped items."""
    photos, problems = read_photos(src)
    photos = sorted(photos, key=photo_id)
    random.Random(seed).shuffle(photos)
    photos = sorted(photos[:limit] if limit else photos, key=photo_id)
    # the 1:1:1 assignment picks which photos also get an image-only or a text-only document
    extras = assign_modalities([photo_id(p) for p in photos], seed)
    replace_dataset_folder(out, "build_coco_folder")  # refuses a folder it did not build
    corpus = out / "corpus"
    corpus.mkdir()
    rows, queries = [], []
    for entry in photos:
        docs, query = _write_documents(src, corpus, entry, extras[photo_id(entry)])
        rows.extend(docs)
        queries.append(query)
    _write_jsonl(out / "corpus.jsonl", rows)
    _write_jsonl(out / "queries.jsonl", queries)
    counts = {m: sum(1 for r in rows if r["metadata"]["modality"] == m) for m in MODALITIES}
    return {"documents": len(rows), "modalities": counts, "problems": problems}


MODALITIES = ("text", "image", "image+text")


def _write_documents(src: Path, corpus: Path, entry: dict, extra: str) -> tuple[list[dict], dict]:
    """The photo's image+text document, plus an image-only or a text-only one per ``extra``."""
    pid = photo_id(entry)
    image = src / entry["image"]
    image_name = f"{pid}{image.suffix.lower()}"
    os.symlink(image.resolve(), corpus / image_name)
    caption = entry["captions"][0]
    (corpus / f"{pid}.txt").write_text(caption + "\n", encoding="utf-8")
    docs = [_row(entry, pid, "image+text", text=caption, image=image_name)]
    if extra == "image":
        photo_name = f"{pid}-photo{image.suffix.lower()}"
        os.symlink(image.resolve(), corpus / photo_name)
        docs.append(_row(entry, f"{pid}-photo", "image", image=photo_name))
    elif extra == "text" and len(entry["captions"]) > 2:  # caption 1 is the query
        other = entry["captions"][2]
        (corpus / f"{pid}-caption.txt").write_text(other + "\n", encoding="utf-8")
        docs.append(_row(entry, f"{pid}-caption", "text", text=other))
    query = {"query": entry["captions"][1], "folder_id": image_name, "jsonl_id": pid}
    return docs, query


def _row(
    entry: dict, doc_id: str, modality: str, *, text: str | None = None, image: str | None = None
) -> dict:
    row: dict = {
        "id": doc_id,
        "metadata": {
            "coco_image_id": entry.get("coco_image_id"),
            "license": entry.get("license"),
            "modality": modality,
        },
    }
    if text is not None:
        row["text"] = text
    if image is not None:
        row["image"] = f"corpus/{image}"
    return row


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="coco-mini folder (captions.json)"
    )
    parser.add_argument(
        "--out", type=Path, help="default ~/.cache/mixsearch/datasets/coco-mini-folder[-N]"
    )
    parser.add_argument(
        "--limit", type=int, help="keep a seeded sample of N photos (e.g. 60 for the demo)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.src / "captions.json").is_file():
        print(f"build_coco_folder: error: {args.src}/captions.json not found", file=sys.stderr)
        return 2
    suffix = f"-{args.limit}" if args.limit else ""
    out = args.out or DEFAULT_CACHE / f"coco-mini-folder{suffix}"
    result = build(args.src, out, args.limit, args.seed)
    for problem in result["problems"]:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{out}: {result['documents']} documents {result['modalities']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
