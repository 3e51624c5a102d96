"""MixBench loader, fit/test separation and the run, on a tiny hub-layout folder with real PNGs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError
from mixsearch.eval.mixbench import (
    FitData,
    check_disjoint,
    download_mixbench,
    load_fit_data,
    load_mixbench,
    run_mixbench,
    split_for_fit,
)

N = 12
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]


def _png(path: Path, i: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 48), COLOURS[i % len(COLOURS)]).save(path)
    return str(path.relative_to(path.parent.parent))


def _jsonl(path: Path, rows: list, raw_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(r) for r in rows] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_subset(root: Path, name: str = "MSCOCO", prefix: str = "") -> Path:
    """N queries/documents; the mixed corpus cycles text, image, image+text; one bad line each."""
    folder = root / name
    images = [_png(folder / "images" / f"{prefix}{i}.png", i) for i in range(N)]
    texts = [f"a {COLOURS[i % len(COLOURS)]} square number {i}" for i in range(N)]
    queries = [
        {"query_id": f"q{i}", "text": f"{COLOURS[i % len(COLOURS)]} square {i}"} for i in range(N)
    ]
    corpus = [{"corpus_id": f"d{i}", "text": texts[i], "image": images[i]} for i in range(N)]
    mixed = []
    for i, doc in enumerate(corpus):
        kind = i % 3
        mixed.append(
            {
                "corpus_id": doc["corpus_id"],
                "text": doc["text"] if kind != 1 else "",
                "image": doc["image"] if kind != 0 else None,
            }
        )
    mixed.append({"corpus_id": "d_missing", "text": "x", "image": "images/missing.png"})
    _jsonl(folder / "queries.jsonl", queries, ('{"query_id": "broken", ',))
    _jsonl(folder / "corpus.jsonl", corpus)
    _jsonl(folder / "mixed_corpus.jsonl", mixed)
    (folder / "qrels").mkdir()
    lines = (
        ["query_id\tcorpus_id\tscore"] + [f"q{i}\td{i}\t1" for i in range(N)] + ["q0\td_missing\t1"]
    )
    (folder / "qrels" / "qrels.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_loader_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    make_subset(tmp_path)
    subset = load_mixbench(tmp_path, "MSCOCO")
    assert subset.corpus_file == "mixed_corpus.jsonl"
    assert [q.id for q in subset.queries] == [f"q{i}" for i in range(N)]
    assert len(subset.documents) == N
    counts = {m: sum(d.modality == m for d in subset.documents) for m in Modality}
    assert counts == {Modality.TEXT: 4, Modality.IMAGE: 4, Modality.IMAGE_TEXT: 4}
    image_doc = subset.documents[1]
    assert image_doc.text is None and image_doc.image is not None and image_doc.image.is_absolute()
    assert image_doc.image.is_file()
    errors = {e.item: e.reason for e in subset.errors}
    assert errors[f"queries.jsonl line {N + 1}"].startswith("bad JSON")
    assert (
        errors[f"mixed_corpus.jsonl line {N + 1} (doc d_missing)"]
        == "image file not found: images/missing.png (nor under images/)"
    )
    assert "was not loaded" in errors[f"qrels.tsv line {N + 2}"]
    assert subset.qrels["q3"] == {"d3": 1.0}
    assert load_mixbench(tmp_path / "MSCOCO").name == "MSCOCO"  # the subset folder itself


def test_unknown_subset_names_the_remedy(tmp_path: Path) -> None:
    make_subset(tmp_path)
    with pytest.raises(MixsearchError, match="no such subset folder.*download"):
        load_mixbench(tmp_path, "OVEN")
    with pytest.raises(MixsearchError, match="name a subset \\(MSCOCO\\)"):
        load_mixbench(tmp_path)


def test_fit_split_is_disjoint_from_the_test_set(tmp_path: Path) -> None:
    make_subset(tmp_path)
    subset = load_mixbench(tmp_path, "MSCOCO")
    fit, test = split_for_fit(subset, 0.5, seed=3)
    assert len(fit.query_ids) == N // 2 and len(test.queries) == N // 2
    assert fit.query_ids.isdisjoint(q.id for q in test.queries)
    assert fit.doc_ids.isdisjoint(d.id for d in test.documents)
    assert set(test.qrels) == {q.id for q in test.queries}
    # Every fit document yields a pair: parts the mixed corpus dropped come from corpus.jsonl.
    assert len(fit.images) == len(fit.texts) == N // 2
    assert all(p.is_file() for p in fit.images)
    check_disjoint(fit, test)  # no error
    other_fit, other_test = split_for_fit(subset, 0.5, seed=4)
    assert other_fit.query_ids != fit.query_ids  # the seed matters


def test_fitting_on_test_items_is_refused(tmp_path: Path) -> None:
    make_subset(tmp_path)
    subset = load_mixbench(tmp_path, "MSCOCO")
    same = load_fit_data(tmp_path, "MSCOCO")
    with pytest.raises(
        MixsearchError, match="fit data overlaps the test set: .*documents.*queries.*image files"
    ):
        check_disjoint(same, subset)
    leaked = FitData([subset.documents[2].image], ["t"], [], tmp_path / "elsewhere")
    with pytest.raises(MixsearchError, match="1 image files"):
        check_disjoint(leaked, subset)
    with pytest.raises(MixsearchError, match="exactly one fit source"):
        run_mixbench(subset, encoder=None, out_dir=tmp_path / "o")


def test_fit_data_from_another_folder_and_from_jsonl(tmp_path: Path) -> None:
    make_subset(tmp_path / "test")
    make_subset(tmp_path / "train", prefix="t")
    fit = load_fit_data(tmp_path / "train", "MSCOCO")
    assert len(fit.images) == N and len(fit.query_texts) == N  # corpus.jsonl: all image+text
    check_disjoint(fit, load_mixbench(tmp_path / "test", "MSCOCO"))
    pairs = tmp_path / "train" / "pairs.jsonl"
    _jsonl(
        pairs,
        [{"image": "MSCOCO/images/t0.png", "text": "red"}, {"image": "MSCOCO/images/t1.png"}],
        ("not json",),
    )
    fit = load_fit_data(pairs)
    assert [p.name for p in fit.images] == ["t0.png"] and fit.texts == ["red"]
    reasons = sorted(e.reason for e in fit.errors)
    assert reasons[0] == "a fit pair needs both 'image' and 'text'" and reasons[1].startswith(
        "bad JSON"
    )


def test_download_without_huggingface_hub_names_the_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    with pytest.raises(
        MixsearchError, match="download the dataset mixed-modality-search/MixBench25"
    ):
        download_mixbench(tmp_path)
    with pytest.raises(MixsearchError, match="pip install 'mixsearch\\[hub\\]'"):
        load_mixbench(tmp_path / "empty", "MSCOCO", download=True)


@pytest.mark.slow
def test_run_mixbench_end_to_end_with_the_offline_encoder(tmp_path: Path) -> None:
    from mixsearch.encoders import create_encoder

    make_subset(tmp_path)
    subset = load_mixbench(tmp_path, "MSCOCO")
    encoder = create_encoder("offline-default", device="cpu")
    results = run_mixbench(
        subset,
        encoder,
        ["none", "center"],
        fit_split=0.5,
        out_dir=tmp_path / "out",
        splits=1,
        seed=1,
    )
    emb = tmp_path / "out" / "embeddings"
    assert np.load(emb / "queries.npy").shape == (N // 2, encoder.dim)
    meta = json.loads((emb / "meta.json").read_text())
    assert len(meta["query_ids"]) == N // 2 and meta["subset"] == "MSCOCO"
    assert results["n_queries"] == N // 2 and results["n_docs"] == N // 2
    assert results["dataset"]["fit_split"] == 0.5
    for method in ("none", "center"):
        assert 0.0 <= results["methods"][method]["ndcg@10"] <= 1.0
    assert any("d_missing" in e["item"] for e in results["errors"])


def test_cli_needs_a_fit_source_and_checks_data_before_loading_an_encoder(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from mixsearch.cli.main import main

    folder = make_subset(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["bench", "mixbench", str(folder)])  # neither --fit nor --fit-split
    assert info.value.code == 2
    assert "--fit" in capsys.readouterr().err
    code = main(["bench", "mixbench", str(tmp_path), "--subset", "OVEN", "--fit-split", "0.5"])
    assert code == 2
    assert "no such subset folder" in capsys.readouterr().err
