"""Build the coco-mini benchmark (MixBench layout) from the shared 239-photo COCO sample.

Test subset: per photo, one seeded-random caption is the query and the other four captions, joined,
are the document text (as MixBench builds its MSCOCO subset). Fit subset: a seeded ~40% of the photos,
disjoint from the test, with one document per (caption, photo) pair. Images are symlinked, never
copied.

    python scripts/build_coco_mini.py [--src ../shared/data/coco-mini] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixbench_layout import (  # noqa: E402
    DEFAULT_CACHE,
    BenchItem,
    join_sentences,
    replace_dataset_folder,
    split_fit_test,
    write_source_md,
    write_subset,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = REPO_ROOT.parent / "shared" / "data" / "coco-mini"


def read_photos(src: Path) -> tuple[list[dict], list[str]]:
    """The usable items of captions.json and one message per skipped item (missing image, too few
    captions)."""
    data = json.loads((src / "captions.json").read_text(encoding="utf-8"))
    photos, problems = [], []
    for n, entry in enumerate(data.get("items", [])):
        name = entry.get("image", f"items[{n}]")
        captions = [c.strip() for c in entry.get("captions", []) if c and c.strip()]
        if not (src / name).is_file():
            problems.append(f"{name}: image file not found, skipped")
        elif len(captions) < 2:
            problems.append(f"{name}: needs at least 2 captions (query + document), skipped")
        else:
            photos.append({**entry, "captions": captions})
    return photos, problems


def photo_id(entry: dict) -> str:
    return Path(entry["image"]).stem


def test_item(src: Path, entry: dict, rng: random.Random) -> BenchItem:
    captions = list(entry["captions"])
    query = captions.pop(rng.randrange(len(captions)))
    return BenchItem(photo_id(entry), src / entry["image"], join_sentences(captions), [query])


def fit_items(src: Path, entry: dict) -> list[BenchItem]:
    """One fit document per (caption, photo) pair, id ``PHOTO-cK``: the fit loader pairs each
    document's image with its text, so five pairs per photo instead of one."""
    pid, image = photo_id(entry), src / entry["image"]
    return [
        BenchItem(f"{pid}-c{k}", image, caption, [caption], {"photo": pid})
        for k, caption in enumerate(entry["captions"])
    ]


def build(src: Path, out: Path, seed: int = 0, fit_fraction: float = 0.4) -> dict:
    """Build NAME/test and NAME/fit under ``out``; returns counts and skipped-item messages."""
    photos, problems = read_photos(src)
    by_id = {photo_id(p): p for p in photos}
    test_ids, fit_ids = split_fit_test(by_id, fit_fraction, seed)
    rng = random.Random(seed)
    test = [test_item(src, by_id[pid], rng) for pid in test_ids]
    fit = [item for pid in fit_ids for item in fit_items(src, by_id[pid])]
    replace_dataset_folder(out, "build_coco_mini")
    counts = {
        "test": write_subset(out / "test", test, seed),
        "fit": write_subset(out / "fit", fit, seed, write_pairs=True),
    }
    write_source_md(
        out / "SOURCE.md",
        "coco-mini in the MixBench layout",
        _provenance(src, seed, fit_fraction),
        counts,
    )
    return {"counts": counts, "problems": problems}


def _provenance(src: Path, seed: int, fit_fraction: float) -> str:
    return f"""Built by `scripts/build_coco_mini.py --seed {seed} --fit-fraction {fit_fraction}` from
`{src}` (see its SOURCE.md): real COCO photographs (each under its own Flickr Creative Commons
licence, some NonCommercial) with the official COCO 2017 human captions (CC BY 4.0).

- `test/`: per photo one seeded-random caption is the query; the other four, joined, are the
  document text; the relevant document is the photo's own. Modality assigned 1:1:1 (seeded) in
  `mixed_corpus.jsonl`.
- `fit/`: a seeded {fit_fraction:.0%} of the photos, disjoint from `test/` by photo; one document per
  (caption, photo) pair (id `PHOTO-cK`, text = that caption, image = the photo) and the caption as
  its query, so a fit loader reading (image, text) documents gets all five pairs of each photo.
- Images are symlinks to the source files (not copied)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="coco-mini folder (captions.json)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "coco-mini")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-fraction", type=float, default=0.4)
    args = parser.parse_args(argv)
    if not (args.src / "captions.json").is_file():
        print(f"build_coco_mini: error: {args.src}/captions.json not found", file=sys.stderr)
        return 2
    result = build(args.src, args.out, args.seed, args.fit_fraction)
    for problem in result["problems"]:
        print(f"skipped {problem}", file=sys.stderr)
    for name, c in result["counts"].items():
        print(f"{args.out / name}: {c.queries} queries, {c.documents} documents {c.modalities}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
