"""Smoke test of benchmarks/peers.py without any peer (nothing is installed): its argument parsing,
and its own mixsearch part on a tiny corpus, end to end on real FAISS and SQLite."""

from __future__ import annotations

import json

import pytest
from bench_module import load_benchmark, write_own_corpus


def test_unknown_peer_is_refused(capsys):
    peers = load_benchmark("peers")
    with pytest.raises(SystemExit):
        peers.parse_args(["--peers", "hnswlib,nosuchdb"])
    assert "unknown peer(s) nosuchdb" in capsys.readouterr().err
    assert peers.parse_args(["--peers", ""]).peer_list == []


def test_mixsearch_rows_without_peers(tmp_path):
    peers = load_benchmark("peers")
    out = tmp_path / "peers.json"
    argv = ["--n", "1500", "--queries", "32", "--tune-queries", "32", "--peers", ""]
    assert peers.main([*argv, "--workdir", str(tmp_path / "w"), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    systems = [r["system"] for r in rows]
    assert systems == [
        "mixsearch HNSW32",
        "raw FAISS HNSW32",
        "mixsearch IVF32,Flat",
        "raw FAISS IVF32,Flat",
    ]
    for row in rows:
        assert 0.0 <= row["unfiltered"]["recall"] <= 1.0 and row["disk_bytes"] > 0
    for row in rows[::2]:  # mixsearch: the filtered search went through the planner
        assert row["filtered"]["knob"]["method"] in ("exact", "ann")
        assert row["filtered"]["recall"] >= 0.9
    assert (tmp_path / "w" / "data" / "reference.faiss").is_file()


def test_a_corpus_of_ones_own_sets_the_sizes_and_needs_tuning_queries(tmp_path):
    peers = load_benchmark("peers")
    write_own_corpus(tmp_path / "mine")
    out = tmp_path / "peers.json"
    argv = ["--corpus", str(tmp_path / "mine"), "--peers", "", "--workdir", str(tmp_path / "w")]
    assert peers.main([*argv, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["n"], result["dim"], result["queries"], result["tune_queries"]) == (
        1500,
        48,
        40,
        40,
    )
    assert all(0.0 <= r["unfiltered"]["recall"] <= 1.0 for r in result["rows"])
    (tmp_path / "mine" / "tune.npy").unlink()
    with pytest.raises(SystemExit, match="no tune.npy"):
        peers.main(argv)
