"""Smoke test of benchmarks/search.py on a tiny corpus: it runs end to end (real FAISS, real
SQLite store, real engine) and its JSON carries every field RESULTS.md is written from.
No timing assertions: only structure, and recall facts that hold on any machine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bench_module import load_benchmark, write_own_corpus


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "search.json"
    work = tmp_path_factory.mktemp("work")
    search = load_benchmark("search")
    argv = [
        "--n",
        "2000",
        "--quick",
        "--queries",
        "64",
        "--latency-queries",
        "32",
        "--indexes",
        "Flat,HNSW32,efC64,IVF{nlist},Flat",
        "--workdir",
        str(work),
        "--json",
        str(out),
    ]
    assert search.main(argv) == 0
    return json.loads(out.read_text())


def test_top_level_fields(result: dict) -> None:
    for key in (
        "n",
        "dim",
        "k",
        "faiss_threads",
        "faiss_threads_batch1",
        "machine",
        "load",
        "indexes",
        "goals",
    ):
        assert key in result, key
    assert result["n"] == 2000 and result["dim"] == 512 and result["k"] == 10
    assert {"cpu", "cores", "date_utc"} <= set(result["machine"])


def test_every_index_row_has_engine_and_raw_figures(result: dict) -> None:
    assert [r["index"] for r in result["indexes"]] == ["Flat", "HNSW32,efC64", "IVF32,Flat"]
    for row in result["indexes"]:
        for key in (
            "spec",
            "params",
            "build_s",
            "bytes_per_vector",
            "recall_raw",
            "recall_engine",
            "qps_batch256_raw",
            "qps_batch256_engine",
            "stages_us",
            "speedup_vs_exact",
        ):
            assert key in row, (row["index"], key)
        lat = row["latency"]
        for side in ("raw", "engine"):
            assert {"p50_ms", "p99_ms", "qps_batch1"} <= set(lat[side])
            assert lat[side]["p99_ms"] >= lat[side]["p50_ms"] > 0
        assert lat["ratio_p50"] > 0
        assert 0.0 <= row["recall_raw"] <= 1.0
        # float32 vectors cost 4*dim bytes each in any index that keeps them
        assert row["bytes_per_vector"] >= 4 * result["dim"]


def test_exact_index_is_exact_through_engine_and_raw(result: dict) -> None:
    flat = next(r for r in result["indexes"] if r["spec"] == "Flat")
    assert flat["recall_raw"] == pytest.approx(1.0)
    assert flat["recall_engine"] == pytest.approx(1.0)


def test_engine_returns_what_faiss_found(result: dict) -> None:
    # One vector per document, no filters: the engine's hits are FAISS's candidates.
    for row in result["indexes"]:
        assert row["recall_engine"] == pytest.approx(row["recall_raw"], abs=1e-9), row["index"]


def test_goals_are_reported_pass_or_miss(result: dict) -> None:
    assert result["goals"]
    for goal in result["goals"]:
        assert isinstance(goal["pass"], bool) and goal["goal"]


def test_filtered_search_is_measured(result: dict) -> None:
    for row in result["indexes"]:
        flt = row["filtered"]
        assert flt["modality"] == "image" and flt["cost_ratio"] > 0
        assert flt["plan"]["method"] in ("exact", "ann")
        assert flt["recall"] >= 0.9, row["index"]  # widened or exact: no collapse to ~0.5
    flat = next(r for r in result["indexes"] if r["spec"] == "Flat")
    assert flat["filtered"]["recall"] == pytest.approx(1.0)


def test_a_corpus_of_ones_own_is_measured_at_its_own_size(tmp_path) -> None:
    search = load_benchmark("search")
    write_own_corpus(tmp_path / "mine")
    out = tmp_path / "mine.json"
    argv = ["--corpus", str(tmp_path / "mine"), "--quick", "--latency-queries", "16"]
    argv += ["--indexes", "Flat,IVF{nlist},Flat", "--workdir", str(tmp_path / "w")]
    assert search.main([*argv, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["n"], result["dim"], result["queries"]) == (1500, 48, 40)
    assert result["corpus"] == {"folder": str(tmp_path / "mine")}
    flat = result["indexes"][0]
    assert flat["recall_raw"] == 1.0 and flat["recall_engine"] == 1.0  # exact: its own truth


def test_a_malformed_corpus_stops_with_the_file_named(tmp_path) -> None:
    search = load_benchmark("search")
    write_own_corpus(tmp_path / "mine")
    np.save(tmp_path / "mine" / "modality.npy", np.full(1500, 5))
    with pytest.raises(SystemExit, match=r"modality\.npy: codes must be 0, 1 or 2"):
        search.main(["--corpus", str(tmp_path / "mine"), "--workdir", str(tmp_path / "w")])
    (tmp_path / "mine" / "queries.npy").unlink()
    with pytest.raises(SystemExit, match=r"queries\.npy: missing"):
        search.main(["--corpus", str(tmp_path / "mine"), "--workdir", str(tmp_path / "w")])
