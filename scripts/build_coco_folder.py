"""Build "coco-mini as a folder": real photos and captions laid out as a user's corpus folder.

Output (default ``~/.cache/mixsearch/datasets/coco-mini-folder``, or ``...-folder-N`` with
``--limit N``)::

    OUT/corpus/PHOTO.jpg + PHOTO.txt   image+text documents (photo symlink, first caption)
    OUT/corpus/PHOTO.jpg               image-only documents
    OUT/corpus/PHOTO.txt               text-only documents (a caption with no photo)
    OUT/corpus.jsonl                   the same documents: {"id","text","image","metadata"},
                                       image relative to the file
    OUT/queries.jsonl                  {"query", "folder_id", "jsonl_id"}: another caption of the
                                       same photo, never the document's own text

Photos are symlinks to the source (never copied). Modalities are 1:1:1 over a seeded shuffle.
``folder_id`` is the document id the folder reader assigns (the path relative to ``corpus/``).

    python scripts/build_coco_folder.py [--src ../shared/data/coco-mini] [--limit 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_coco_mini import DEFAULT_SRC, photo_id, read_photos  # noqa: E402
from mixbench_layout import DEFAULT_CACHE, assign_modalities  # noqa: E402


def build(src: Path, out: Path, limit: int | None = None, seed: int = 0) -> dict:
    """Write the folder, corpus.jsonl and queries.jsonl; returns counts and skipped items."""
    photos, problems = read_photos(src)
    photos = sorted(photos, key=photo_id)
    random.Random(seed).shuffle(photos)
    photos = sorted(photos[:limit] if limit else photos, key=photo_id)
    modalities = assign_modalities([photo_id(p) for p in photos], seed)
    if out.exists():
        shutil.rmtree(out)
    corpus = out / "corpus"
    corpus.mkdir(parents=True)
    rows, queries = [], []
    for entry in photos:
        row, query = _write_document(src, corpus, entry, modalities[photo_id(entry)])
        rows.append(row)
        queries.append(query)
    _write_jsonl(out / "corpus.jsonl", rows)
    _write_jsonl(out / "queries.jsonl", queries)
    counts = {
        m: sum(1 for v in modalities.values() if v == m) for m in ("text", "image", "image+text")
    }
    return {"documents": len(rows), "modalities": counts, "problems": problems}


def _write_document(src: Path, corpus: Path, entry: dict, modality: str) -> tuple[dict, dict]:
    pid = photo_id(entry)
    image = src / entry["image"]
    caption, query = entry["captions"][0], entry["captions"][1]
    image_name = f"{pid}{image.suffix.lower()}"
    row: dict = {
        "id": pid,
        "metadata": {
            "coco_image_id": entry.get("coco_image_id"),
            "license": entry.get("license"),
            "modality": modality,
        },
    }
    if modality != "image":
        (corpus / f"{pid}.txt").write_text(caption + "\n", encoding="utf-8")
        row["text"] = caption
    if modality != "text":
        os.symlink(image.resolve(), corpus / image_name)
        row["image"] = f"corpus/{image_name}"
    folder_id = f"{pid}.txt" if modality == "text" else image_name
    return row, {"query": query, "folder_id": folder_id, "jsonl_id": pid}


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
