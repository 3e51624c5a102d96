"""Build the Tux Paint benchmark (MixBench layout) from Debian's tuxpaint-stamps-default package.

Each stamp is an image (``NAME.png``) with ``NAME.txt``: an English caption on line 1, then
translations (``lang.utf8=...``). The caption is the query. The document text is what a file manager
would know about the stamp: its category folders and file name, turned into words (for
``animals/birds/cardinal.png``: "animals birds: cardinal"). That text is honest but weak: it shares
a key noun with many captions and nothing else, so the image side carries real weight. Stamps that
exist only as SVG are skipped (no SVG renderer is a required dependency); captions shared by several
stamps are dropped (one relevant document per query).

    python scripts/build_tuxpaint.py [--out DIR] [--seed 0] [--fit-fraction 0.4]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_fetch import unpacked_package  # noqa: E402
from mixbench_layout import (  # noqa: E402
    DEFAULT_CACHE,
    BenchItem,
    replace_dataset_folder,
    split_fit_test,
    unique_queries,
    write_source_md,
    write_subset,
)

NAME_SPLIT_RE = re.compile(r"[^A-Za-z]+|(?<=[a-z])(?=[A-Z])")


def english_caption(txt: str) -> str | None:
    """The caption on the first non-empty line, unless that line is itself a translation."""
    for line in txt.splitlines():
        line = " ".join(line.split())
        if line:
            return None if re.match(r"^[a-z_@A-Z]+\.utf8=", line) else line
    return None


def path_words(relative: Path) -> str:
    """Category folders and file stem as words: ``animals/birds/cardinal`` -> ``animals birds: cardinal``."""
    folders = [" ".join(_words(part)) for part in relative.parent.parts]
    stem = " ".join(_words(relative.stem))
    head = " ".join(f for f in folders if f)
    return f"{head}: {stem}" if head and stem else head or stem


def _words(name: str) -> list[str]:
    return [w.lower() for w in NAME_SPLIT_RE.split(name) if w]


def collect_stamps(
    stamps_root: Path, log: Callable[[str], None]
) -> tuple[list[BenchItem], dict[str, int]]:
    dropped: dict[str, int] = {}
    items = []
    for txt in sorted(stamps_root.rglob("*.txt")):
        relative = txt.relative_to(stamps_root).with_suffix("")
        png = txt.with_suffix(".png")
        caption = english_caption(txt.read_text(encoding="utf-8", errors="replace"))
        reason = None
        if not png.is_file():
            reason = "no PNG (SVG-only or missing image)"
        elif not caption:
            reason = "no English caption on line 1"
        if reason:
            log(f"{txt}: {reason}, skipped")
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        items.append(BenchItem(relative.as_posix(), png, path_words(relative), [caption]))
    unique = unique_queries(items)
    dropped["caption shared by several stamps"] = len(items) - len(unique)
    return unique, dropped


def build(
    root: Path,
    out: Path,
    seed: int = 0,
    fit_fraction: float = 0.4,
    log: Callable[[str], None] = print,
) -> dict:
    items, dropped = collect_stamps(root / "usr" / "share" / "tuxpaint" / "stamps", log)
    by_id = {item.item_id: item for item in items}
    test_ids, fit_ids = split_fit_test(by_id, fit_fraction, seed)
    replace_dataset_folder(out, "build_tuxpaint")
    counts = {
        "test": write_subset(out / "test", [by_id[i] for i in test_ids], seed),
        "fit": write_subset(out / "fit", [by_id[i] for i in fit_ids], seed, write_pairs=True),
    }
    body = _provenance(seed, fit_fraction, len(items), dropped)
    write_source_md(out / "SOURCE.md", "Tux Paint stamps in the MixBench layout", body, counts)
    return {"counts": counts, "dropped": dropped, "usable": len(items)}


def _provenance(seed: int, fit_fraction: float, usable: int, dropped: dict) -> str:
    drops = "\n".join(f"  - {reason}: {n}" for reason, n in sorted(dropped.items()))
    return f"""Built by `scripts/build_tuxpaint.py --seed {seed} --fit-fraction {fit_fraction}` from Debian
bookworm's `tuxpaint-stamps-default` (Tux Paint stamps, GPL-2; see the package's
`usr/share/doc/tuxpaint-stamps-default/copyright`).

- Query: the English caption (line 1 of the stamp's `.txt`). Document text: the stamp's category
  folders and file name as words, e.g. "animals birds: cardinal" (what a file manager knows; never
  the caption). Image: the stamp's PNG (a symlink into the unpacked package).
- {usable} stamps kept; dropped:
{drops}
- Split by stamp with a fixed seed: {fit_fraction:.0%} to `fit/`, the rest to `test/`; modality
  assigned 1:1:1 (seeded) in `mixed_corpus.jsonl`."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="already unpacked package root (holds usr/share)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "tuxpaint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-fraction", type=float, default=0.4)
    parser.add_argument("--verbose", action="store_true", help="print each skipped stamp")
    args = parser.parse_args(argv)
    root = args.root or unpacked_package("tuxpaint-stamps-default")
    log = (lambda m: print(m, file=sys.stderr)) if args.verbose else (lambda m: None)
    result = build(root, args.out, args.seed, args.fit_fraction, log=log)
    print(f"usable stamps: {result['usable']}; dropped: {result['dropped']}")
    for name, c in result["counts"].items():
        print(f"{args.out / name}: {c.queries} queries, {c.documents} documents {c.modalities}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
