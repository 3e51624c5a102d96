"""Image queries through the Python API and the CLI, on the real offline default encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixsearch.cli.main import main
from mixsearch.engine import Engine
from mixsearch.errors import MixsearchError


@pytest.fixture(scope="module")
def engine(built_store: Path):
    with Engine.open(built_store) as opened:
        yield opened


def test_image_query_finds_its_own_document_first_and_ranks_all_modalities(
    engine: Engine, corpus_dir: Path
) -> None:
    hits = engine.search(image=corpus_dir / "chelsea.jpg", k=25)
    assert hits[0].doc_id == "chelsea.jpg"
    assert {h.modality.label for h in hits} == {"text", "image", "image+text"}
    # The cat photo is nearer the cat note than the coffee note: the query went to text space.
    order = [h.doc_id for h in hits]
    assert order.index("cats.txt") < order.index("espresso.md")


def test_image_query_accepts_bytes_and_pil_images(engine: Engine, corpus_dir: Path) -> None:
    from PIL import Image

    path = corpus_dir / "rocket.jpg"
    by_path = engine.search(image=path, k=3)
    by_bytes = engine.search(image=path.read_bytes(), k=3)
    with Image.open(path) as image:
        by_pil = engine.search(image=image.copy(), k=3)
    assert [h.doc_id for h in by_path] == [h.doc_id for h in by_bytes] == [h.doc_id for h in by_pil]


def test_search_like_leaves_the_document_out(engine: Engine) -> None:
    like = engine.search_like("rocket.jpg", k=4)
    assert "rocket.jpg" not in [h.doc_id for h in like]
    assert [h.rank for h in like] == [1, 2, 3, 4]
    # Without an alignment (too few pairs) images crowd the top; among texts the launch note wins.
    assert engine.search_like("rocket.jpg", k=1, modality="text")[0].doc_id == "launch.txt"
    with pytest.raises(MixsearchError, match="no document 'nope'"):
        engine.search_like("nope")


def test_weighted_terms_push_results_away(engine: Engine) -> None:
    plain = engine.search_aligned(engine.query_vector(texts=[("coffee", 1.0)]), k=25)[0]
    pushed = engine.search_aligned(
        engine.query_vector(texts=[("coffee", 1.0), ("a cup on a saucer", -0.8)]), k=25
    )[0]
    rank_of = {h.doc_id: h.rank for h in pushed}
    assert rank_of["coffee.jpg"] > {h.doc_id: h.rank for h in plain}["coffee.jpg"]
    with pytest.raises(MixsearchError, match="cancel out"):
        engine.query_vector(texts=[("coffee", 1.0), ("coffee", -1.0)])


def test_bad_image_query_is_one_clear_error(engine: Engine, tmp_path: Path) -> None:
    from mixsearch.errors import ItemLoadError

    with pytest.raises(ItemLoadError, match="not a recognised image"):
        engine.search(image=b"this is not an image")


def test_cli_image_search_and_one_json_shape(built_store: Path, corpus_dir: Path, capsys) -> None:
    argv = [
        "search",
        str(built_store),
        "a cat",
        "-q",
        "coffee",
        "--image",
        str(corpus_dir / "moon.jpg"),
    ]
    assert main([*argv, "-k", "2", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["query"], r["image"]) for r in results] == [
        ("a cat", None),
        ("coffee", None),
        (None, str(corpus_dir / "moon.jpg")),
    ]
    assert results[2]["hits"][0]["doc_id"] == "moon.jpg"
    assert main(["search", str(built_store), "a cat", "-k", "1", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["results"]


def test_cli_refuses_an_unquoted_query_with_a_hint(built_store: Path, capsys) -> None:
    assert main(["search", str(built_store), "a", "dog"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and '"a dog"' in err and "-q" in err
