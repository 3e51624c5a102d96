"""Open Clip Art builder: SVG metadata parsing, the title filter, and a build on a tiny tree."""

from __future__ import annotations

import pytest
from builder_helpers import (
    check_output_folder_guard,
    check_subset_layout,
    load_script,
    read_jsonl,
    write_png,
)

oca = load_script("build_openclipart")

ENGLISH = {"blue", "couch", "red", "apple", "owl", "on", "branch", "flaming", "soccer", "ball"}


def svg(title: str, description: str = "", keywords=("furniture",), doctype: str = "") -> str:
    lis = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    return f"""<?xml version="1.0"?>{doctype}
<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <metadata><rdf:RDF><cc:Work rdf:about="">
    <dc:title>{title}</dc:title><dc:description>{description}</dc:description>
    <dc:subject><rdf:Bag>{lis}<rdf:li/></rdf:Bag></dc:subject>
    <dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>
  </cc:Work></rdf:RDF></metadata>
  <rect width="1" height="1"/>
</svg>"""


def test_read_metadata_takes_the_works_own_title_and_keywords():
    art = oca.read_metadata(
        svg("Soft Blue Couch", "A couch &amp; cushions", ("Furniture", "sofa_bed")), "k"
    )
    assert art.title == "Soft Blue Couch"  # not the publisher's nested dc:title
    assert art.description == "A couch & cushions"
    assert art.keywords == ["furniture", "sofa bed"]  # empty rdf:li dropped, underscores spaced


def test_declared_entities_are_never_expanded():
    doctype = '<!DOCTYPE svg [<!ENTITY boom "EXPANDED">]>'
    with pytest.raises(ValueError, match="unreadable metadata"):
        oca.read_metadata(svg("&boom;", doctype=doctype), "k")


def test_svg_without_metadata_is_an_error():
    with pytest.raises(ValueError, match="no <metadata>"):
        oca.read_metadata('<svg xmlns="http://www.w3.org/2000/svg"/>', "k")


@pytest.mark.parametrize(
    ("title", "problem"),
    [
        ("Soft Blue Couch", None),
        ("Owl on Branch", None),
        ("flaming soccer ball", None),
        ("", "too short"),
        ("ab", "too short"),
        ("Aircraft3", "contains digits"),
        ("star_22pt", "contains digits"),
        ("blue_couch", "looks like a file name"),
        ("couch.svg", "looks like a file name"),
        ("Untitled", "boilerplate"),
        ("Lemon SVG theme", "boilerplate"),
        ("Clipart by Nicu", "boilerplate"),
        ("Medicina Dottore", "not English"),
        ("red pomodoro", None),  # half English is enough
        ("pomodoro rosso apple", "not English"),
    ],
)
def test_title_filter(title, problem):
    assert oca.title_problem(title, ENGLISH) == problem


def test_document_text_never_just_repeats_the_title():
    same = oca.ClipArt("k", "Red Apple", "red apple", ["fruit"])
    noise = oca.ClipArt("k", "Red Apple", "someone@example.org", ["fruit"])
    useful = oca.ClipArt("k", "Red Apple", "A shiny fruit", ["fruit", "food"])
    assert oca.document_text(same) == "Keywords: fruit."
    assert oca.document_text(noise) == "Keywords: fruit."
    assert oca.document_text(useful) == "A shiny fruit. Keywords: fruit, food."


def test_build_on_a_tiny_tree(tmp_path):
    share = tmp_path / "root" / "usr" / "share" / "openclipart"
    drawings = {
        "furniture/couch": svg("Soft Blue Couch", "a couch"),
        "food/apple": svg("Red Apple", keywords=("fruit",)),
        "food/apple2": svg("red apple", keywords=("fruit",)),  # shares its title: both dropped
        "birds/owl": svg("Owl on Branch", "an owl"),
        "sports/ball": svg("flaming soccer ball", "fire"),
        "misc/star": svg("gramastar3", "star"),  # digits: dropped
        "misc/blue": svg("Blue Couch", "no png"),  # no rendered PNG: dropped
        "misc/broken": "<svg>no metadata</svg>",
    }
    for n, (key, text) in enumerate(drawings.items()):
        (share / "svg" / f"{key}.svg").parent.mkdir(parents=True, exist_ok=True)
        (share / "svg" / f"{key}.svg").write_text(text, encoding="utf-8")
        if key != "misc/blue":
            write_png(share / "png" / f"{key}.png", n)
    ENGLISH.update({"fire"})
    log = []
    result = oca.build(
        tmp_path / "root",
        tmp_path / "out",
        max_items=10,
        seed=0,
        fit_fraction=0.25,
        english_words=ENGLISH,
        log=log.append,
    )
    assert result["usable"] == 3
    assert result["dropped"]["title shared by several drawings"] == 2
    assert result["dropped"]["no rendered PNG"] == 1
    assert any("misc/broken" in line and "no <metadata>" in line for line in log)
    check_subset_layout(tmp_path / "out" / "test")
    test_ids = {d["corpus_id"] for d in read_jsonl(tmp_path / "out/test/corpus.jsonl")}
    fit_ids = {d["corpus_id"] for d in read_jsonl(tmp_path / "out/fit/corpus.jsonl")}
    assert not test_ids & fit_ids and len(test_ids | fit_ids) == 3 and len(fit_ids) == 1
    # a rebuild replaces only an output folder the script built itself
    check_output_folder_guard(
        lambda out: oca.build(
            tmp_path / "root", out, max_items=10, seed=0, english_words=ENGLISH, log=log.append
        ),
        tmp_path,
    )
