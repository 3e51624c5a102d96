"""The precomputed-embedding benchmark through the CLI, on a synthetic folder with a modality gap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixsearch.align import fit_alignment
from mixsearch.cli.main import main
from mixsearch.errors import MixsearchError
from mixsearch.eval.embeddings import (
    load_embeddings_dir,
    run_embeddings_benchmark,
    save_embeddings_dir,
)
from mixsearch.eval.metrics import evaluate_rankings
from mixsearch.eval.report import markdown_report
from mixsearch.fusion import document_vectors, query_vectors

DIM = 24
METHODS = "none,center,procrustes,auto,lstsq"


def _side(concepts: np.ndarray, offset: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One modality's embedding of the concepts: shared content + noise + that side's constant offset."""
    return concepts + 0.35 * rng.normal(size=concepts.shape) + offset


def make_gap_dir(path: Path, seed: int = 0, n_per_modality: int = 30, n_fit: int = 150) -> Path:
    """Texts and images share content but sit around different means (a modality gap)."""
    rng = np.random.default_rng(seed)
    text_offset = 2.0 * rng.normal(size=DIM) / np.sqrt(DIM) * 3
    image_offset = 2.0 * rng.normal(size=DIM) / np.sqrt(DIM) * 3
    n = 3 * n_per_modality
    concepts = rng.normal(size=(n, DIM))
    fit_concepts = rng.normal(size=(n_fit, DIM))
    modality = np.repeat([0, 1, 2], n_per_modality)
    return save_embeddings_dir(
        path,
        queries=_side(concepts, text_offset, rng),  # query i looks for document i
        doc_text=_side(concepts, text_offset, rng),
        doc_image=_side(concepts, image_offset, rng),
        doc_modality=modality,
        qrels=[(i, i, 1.0) for i in range(n)],
        fit_image=_side(fit_concepts, image_offset, rng),
        fit_text=_side(fit_concepts, text_offset, rng),
        meta={"generator": "tests/eval/test_embeddings_bench.py", "seed": seed},
    )


def _direct_metrics(folder: Path, method: str) -> dict:
    """The same run computed without the store: brute-force cosine ranking in numpy."""
    emb = load_embeddings_dir(folder)
    alignment = fit_alignment(emb.fit_image, emb.fit_text, method, query=emb.fit_query)
    docs = document_vectors(emb.doc_text, emb.doc_image, emb.doc_modality, alignment, 0.5)
    queries = query_vectors(emb.queries, alignment)
    rankings = [list(np.argsort(-row, kind="stable")[:100]) for row in queries @ docs.T]
    return evaluate_rankings(rankings, emb.qrels, emb.doc_modality, k=10)


def test_cli_compares_methods_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = make_gap_dir(tmp_path / "emb")
    out = tmp_path / "report"
    argv = ["bench", "embeddings", str(folder), "--methods", METHODS, "--json", "--out", str(out)]
    assert main([*argv, "--splits", "2"]) == 0
    results = json.loads(capsys.readouterr().out)
    methods = results["methods"]
    assert list(methods) == METHODS.split(",")
    assert results["n_queries"] == 90 and results["doc_modality_counts"] == {
        "text": 30,
        "image": 30,
        "image+text": 30,
    }
    # The gap pushes image documents down without centering; centering recovers them.
    assert methods["center"]["ndcg@10"] > methods["none"]["ndcg@10"] + 0.1
    assert (
        methods["center"]["by_modality"]["image"]["ndcg@10"]
        > methods["none"]["by_modality"]["image"]["ndcg@10"]
    )
    assert methods["none"]["top10_share"]["text"] > methods["center"]["top10_share"]["text"]
    for name in ("center", "procrustes", "lstsq"):
        r = methods[name]
        lo, hi = r["ci95"]["ndcg@10"]
        assert lo <= r["ndcg@10"] <= hi
        assert r["n_refits"] == 2
        assert sum(r["top10_share"].values()) == pytest.approx(1.0)
    assert methods["none"]["fit_sd"]["ndcg@10"] == 0.0
    assert len(methods["auto"]["refit_lambdas"]) == 2 and "lambda" not in methods["center"]
    assert f"`auto` chose λ = {methods['auto']['lambda']}" in (out / "report.md").read_text()
    for name in ("none", "center", "procrustes"):
        direct = _direct_metrics(folder, name)
        for metric in ("ndcg@10", "recall@1", "recall@10", "mrr"):
            assert methods[name][metric] == pytest.approx(direct[metric], abs=1e-6), (name, metric)
        assert methods[name]["top10_share"] == pytest.approx(direct["top10_share"], abs=1e-9)
    for name in ("report.md", "results.json", "ndcg.png"):
        assert (out / name).stat().st_size > 100
    assert (out / "ndcg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "results.json").read_text())
    assert saved["methods"]["center"]["ndcg@10"] == methods["center"]["ndcg@10"]
    table = (out / "report.md").read_text()
    assert "| center |" in table and "image+text" in table


def test_auto_refits_reuse_the_headline_lambda_unless_told_to_cross_validate(
    tmp_path: Path,
) -> None:
    folder = make_gap_dir(tmp_path / "emb", n_per_modality=10, n_fit=60)
    reused = run_embeddings_benchmark(folder, ["auto"], splits=3, bootstrap=0)
    auto = reused["methods"]["auto"]
    assert reused["refit_cv"] is False
    assert auto["refit_lambdas"] == [auto["lambda"]] * 3 and auto["n_refits"] == 3
    assert "refits reuse it" in markdown_report(reused, "t")

    chosen = run_embeddings_benchmark(folder, ["auto"], splits=3, bootstrap=0, refit_cv=True)
    again = chosen["methods"]["auto"]
    assert chosen["refit_cv"] is True and again["ndcg@10"] == auto["ndcg@10"]  # same headline
    refits = ", ".join(str(v) for v in again["refit_lambdas"])
    assert f"refits, each cross-validated: {refits}" in markdown_report(chosen, "t")


def test_bad_rows_are_reported_and_the_rest_runs(tmp_path: Path) -> None:
    folder = make_gap_dir(tmp_path / "emb", n_per_modality=10, n_fit=60)
    queries = np.load(folder / "queries.npy")
    queries[3] = np.nan
    np.save(folder / "queries.npy", queries)
    doc_text, doc_image = np.load(folder / "doc_text.npy"), np.load(folder / "doc_image.npy")
    doc_text[12] = 0.0  # document 12 is image-only: its text row is ignored, not an error
    doc_image[15] = np.inf  # document 15 is image-only: a broken image vector drops it
    np.save(folder / "doc_text.npy", doc_text)
    np.save(folder / "doc_image.npy", doc_image)
    with open(folder / "qrels.tsv", "a") as handle:
        handle.write("5\t999\t1\nnot a line\n")
    results = run_embeddings_benchmark(folder, ["center"], splits=1, bootstrap=0)
    items = {e["item"]: e["reason"] for e in results["errors"]}
    assert "NaN" in items["queries.npy row 3"]
    assert "out of range" in next(r for i, r in items.items() if i.startswith("qrels.tsv line"))
    assert "NaN or inf" in items["doc_image.npy row 15"]
    assert len(items) == 4  # query 3, document 15, two qrels lines; nothing about row 12
    # query 3 has no vector, query 15 lost its only relevant document
    assert results["n_queries"] == 28 and results["n_docs"] == 29
    assert results["methods"]["center"]["ndcg@10"] > 0.3


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: (d / "fit_text.npy").unlink(), "missing fit_text.npy"),
        (
            lambda d: np.save(d / "doc_text.npy", np.zeros((5, DIM))),
            "5 rows but doc_modality.npy lists",
        ),
        (
            lambda d: np.save(d / "fit_image.npy", np.ones((7, DIM))),
            "fit_image.npy has 7 rows but fit_text.npy",
        ),
        (lambda d: np.save(d / "queries.npy", np.ones((4, DIM + 1))), "queries.npy has dimension"),
        (lambda d: np.save(d / "doc_modality.npy", np.full(30, 5)), "modality codes are"),
    ],
)
def test_whole_folder_problems_are_one_line_errors(tmp_path: Path, break_it, message: str) -> None:
    folder = make_gap_dir(tmp_path / "emb", n_per_modality=10, n_fit=40)
    break_it(folder)
    with pytest.raises(MixsearchError, match=message) as info:
        load_embeddings_dir(folder)
    assert "\n" not in str(info.value)


def test_cli_reports_a_bad_folder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["bench", "embeddings", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a folder of precomputed embeddings" in err and "\n" not in err


def test_different_dimensions_mark_none_and_center_not_applicable(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 30
    text = rng.normal(size=(n, 16))
    mix = rng.normal(size=(16, 12))
    folder = save_embeddings_dir(
        tmp_path / "emb",
        queries=text + 0.1 * rng.normal(size=text.shape),
        doc_text=text,
        doc_image=text @ mix,
        doc_modality=np.repeat([0, 1, 2], 10),
        qrels=[{i: 1.0} for i in range(n)],
        fit_image=(fit := rng.normal(size=(80, 16))) @ mix,
        fit_text=fit,
    )
    results = run_embeddings_benchmark(folder, ["none", "center", "lstsq"], splits=1, bootstrap=0)
    assert "shared space" in results["methods"]["none"]["error"]
    assert "shared space" in results["methods"]["center"]["error"]
    assert results["methods"]["lstsq"]["ndcg@10"] > 0.5


def _authors_mixbench_ndcg(emb, use_mean: bool) -> float:
    """MixBench's own scoring (retrieval_mixbench.py), written independently of mixsearch:
    normalise, subtract GR-CLIP's means (queries' own mean, documents' text/image means, α-mix for
    image+text), normalise, full similarity matrix, top 10, sklearn's ndcg_score on those 10."""
    sk = pytest.importorskip("sklearn.metrics")

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    alpha = 0.5
    q_mean = unit(emb.fit_query).mean(axis=0) if use_mean else 0.0
    t_mean = unit(emb.fit_text).mean(axis=0) if use_mean else 0.0
    i_mean = unit(emb.fit_image).mean(axis=0) if use_mean else 0.0
    texts, images = unit(emb.doc_text.astype(float)), unit(emb.doc_image.astype(float))
    docs = []
    for d, mode in enumerate(emb.doc_modality):
        if mode == 0:
            docs.append(texts[d] - t_mean)
        elif mode == 1:
            docs.append(images[d] - i_mean)
        else:
            fused = alpha * texts[d] + (1 - alpha) * images[d]
            docs.append(fused - (alpha * t_mean + (1 - alpha) * i_mean))
    sims = unit(unit(emb.queries.astype(float)) - q_mean) @ unit(np.array(docs)).T
    values = []
    for qi, row in enumerate(sims):
        top = np.argsort(-row)[:10]
        rel = [emb.qrels[qi].get(int(d), 0) for d in top]
        values.append(sk.ndcg_score([rel], [row[top]], k=10))
    return float(np.mean(values))


def test_bench_prints_the_authors_ndcg(tmp_path: Path) -> None:
    folder = make_gap_dir(tmp_path / "emb", seed=5)
    rng = np.random.default_rng(6)  # queries with their own mean, as GR-CLIP estimates it
    np.save(folder / "fit_query.npy", rng.normal(size=(80, DIM)).astype(np.float32) + 0.5)
    emb = load_embeddings_dir(folder)
    results = run_embeddings_benchmark(folder, ["none", "center"], splits=1, bootstrap=0)
    for method, use_mean in (("none", False), ("center", True)):
        ours = results["methods"][method]["ndcg@10"]
        assert ours == pytest.approx(_authors_mixbench_ndcg(emb, use_mean), abs=1e-6)
