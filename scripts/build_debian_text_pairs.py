"""Build real (short, long) text pairs from Debian package descriptions, offline after one fetch.

Each Debian package has a one-line synopsis and a long description; the synopsis is a natural short
query for the long text. Descriptions come from the archive's English ``Translation-en`` index,
fetched with ``apt-get update`` into a private lists folder (``~/.cache/mixsearch/apt-lists``; the
system's apt state is untouched), or from ``--translation FILE``.

Filtering, in order: synopsis under 3 words or long text under 15 words dropped; packages whose long
description's first paragraph (case-folded) repeats another's are collapsed to one (library families,
-dev/-doc/-data variants share it and would make several documents equally right); duplicate
synopses dropped for the same reason. The survivors are shuffled with ``--seed`` and capped.

Writes JSONL ``{"query": synopsis, "doc": long description, "package": name}``.

    python scripts/build_debian_text_pairs.py [--out FILE] [--max-pairs 30000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

CACHE = Path.home() / ".cache" / "mixsearch"
DEFAULT_OUT = CACHE / "datasets" / "debian-text-pairs.jsonl"
MIN_QUERY_WORDS = 3
MIN_DOC_WORDS = 15


def parse_translation(text: str) -> Iterator[tuple[str, str, str]]:
    """(package, synopsis, long description) per stanza of a Translation-en / Packages file.

    Continuation lines start with a space; a line " ." is a paragraph break."""
    for stanza in text.split("\n\n"):
        package, synopsis, long_lines, in_description = None, None, [], False
        for line in stanza.splitlines():
            if line.startswith("Package:"):
                package = line.split(":", 1)[1].strip()
            elif line.startswith(("Description-en:", "Description:")):
                synopsis, in_description = line.split(":", 1)[1].strip(), True
            elif line.startswith(" ") and in_description:
                long_lines.append("" if line.strip() == "." else line.strip())
            else:
                in_description = False
        if package and synopsis:
            yield package, synopsis, _paragraphs(long_lines)


def _paragraphs(lines: list[str]) -> str:
    paragraphs, current = [], []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs)


def select_pairs(
    entries: Iterable[tuple[str, str, str]], max_pairs: int, seed: int = 0
) -> tuple[list[dict], dict[str, int]]:
    """Filtered, deduplicated, seeded-shuffled pairs and how many entries each rule dropped."""
    dropped = {"too short": 0, "same first paragraph": 0, "duplicate synopsis": 0}
    by_paragraph: dict[str, dict] = {}
    for package, synopsis, doc in sorted(set(entries)):
        if len(synopsis.split()) < MIN_QUERY_WORDS or len(doc.split()) < MIN_DOC_WORDS:
            dropped["too short"] += 1
            continue
        key = " ".join(doc.split("\n\n")[0].casefold().split())
        if key in by_paragraph:
            dropped["same first paragraph"] += 1
            continue
        by_paragraph[key] = {"query": synopsis, "doc": doc, "package": package}
    synopsis_count: dict[str, int] = {}
    for pair in by_paragraph.values():
        k = pair["query"].casefold()
        synopsis_count[k] = synopsis_count.get(k, 0) + 1
    pairs = [p for p in by_paragraph.values() if synopsis_count[p["query"].casefold()] == 1]
    dropped["duplicate synopsis"] = len(by_paragraph) - len(pairs)
    random.Random(seed).shuffle(pairs)
    return pairs[:max_pairs], dropped


def fetch_translation(lists: Path = CACHE / "apt-lists") -> str:
    """The decompressed text of the archive's Translation-en indexes (fetched once)."""
    found = sorted(lists.glob("*_i18n_Translation-en*"))
    if not found:
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["apt-get", "update", f"-o=Dir::State::Lists={lists}", "-o=Acquire::Languages=en"],
            check=True,
            capture_output=True,
        )
        found = sorted(lists.glob("*_i18n_Translation-en*"))
    if not found:
        raise RuntimeError(f"apt-get update fetched no Translation-en index into {lists}")
    return "\n\n".join(_read_index(path) for path in found)


def _read_index(path: Path) -> str:
    """apt's own helper decompresses whatever it stored (lz4, gz, xz or plain)."""
    result = subprocess.run(
        ["/usr/lib/apt/apt-helper", "cat-file", str(path)], check=True, capture_output=True
    )
    return result.stdout.decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--translation", type=Path, help="a Translation-en or Packages file to read"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--max-pairs", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    text = _read_index(args.translation) if args.translation else fetch_translation()
    pairs, dropped = select_pairs(parse_translation(text), args.max_pairs, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False) + "\n")
    print(f"{args.out}: {len(pairs)} pairs; dropped {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
