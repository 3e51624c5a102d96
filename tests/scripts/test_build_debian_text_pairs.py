"""Debian description pairs: stanza parsing and the filters."""

from __future__ import annotations

from builder_helpers import load_script

deb = load_script("build_debian_text_pairs")

LONG = "word " * 20

INDEX = f"""Package: alpha
Description-md5: 0
Description-en: fast alpha text tool
 First paragraph about alpha {LONG}
 .
 Second paragraph.

Package: alpha-doc
Description-md5: 1
Description-en: documentation for alpha tool
 First paragraph about alpha {LONG}
 .
 This package holds the documentation.

Package: beta
Description-en: tiny
 Beta does beta things {LONG}

Package: gamma
Description-en: a gamma ray viewer
 Too short.

Package: delta
Description-en: Fast Alpha Text Tool
 Delta is different {LONG}

Package: epsilon
Description-en: epsilon network daemon here
 Epsilon serves {LONG}
"""


def test_parse_keeps_paragraphs():
    entries = {p: (s, d) for p, s, d in deb.parse_translation(INDEX)}
    assert entries["alpha"][0] == "fast alpha text tool"
    assert entries["alpha"][1].split("\n\n")[1] == "Second paragraph."
    assert len(entries) == 6


def test_filters_and_dedupe():
    pairs, dropped = deb.select_pairs(deb.parse_translation(INDEX), max_pairs=10, seed=0)
    assert dropped == {"too short": 2, "same first paragraph": 1, "duplicate synopsis": 2}
    assert [p["package"] for p in pairs] == ["epsilon"]


def test_cap_and_seed():
    entries = [(f"p{i}", f"synopsis number {i} here", f"text {i} {LONG}") for i in range(50)]
    a, _ = deb.select_pairs(entries, max_pairs=10, seed=1)
    b, _ = deb.select_pairs(list(reversed(entries)), max_pairs=10, seed=1)
    assert len(a) == 10 and a == b
