"""`embed` in-process: Parquet shards, manifest, per-item errors, resume rules, `index SHARDS`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsearch.cli.main import main
from mixsearch.shards import embed, load_shards
from mixsearch.shards.plan import plan_shards

pytestmark = pytest.mark.slow

QUERIES = ("a cat", "an astronaut", "a cup of coffee", "a rocket")
SHARD_SIZE = 8


@pytest.fixture(scope="module")
def encoder():
    from mixsearch.encoders import create_encoder

    return create_encoder("offline-default")


@pytest.fixture(scope="module")
def shards(photo_corpus: Path, tmp_path_factory: pytest.TempPathFactory, encoder) -> Path:
    out = tmp_path_factory.mktemp("embed") / "shards"
    embed(photo_corpus, out, encoder=encoder, shard_size=SHARD_SIZE)
    return out


def _index(args: list[str], capsys) -> tuple[int, dict]:
    status = main(["index", *args, "--no-progress", "--json"])
    return status, json.loads(capsys.readouterr().out)


def _top10(store: Path) -> list[list[tuple[str, float]]]:
    from mixsearch import Engine

    with Engine.open(store) as engine:
        return [[(h.doc_id, h.score) for h in engine.search(q, k=10)] for q in QUERIES]


def test_shards_hold_every_document_and_the_errors_beside_them(
    shards: Path, photo_corpus: Path
) -> None:
    import pyarrow.parquet as pq

    manifest = json.loads((shards / "mixsearch-shards.json").read_text())
    documents = 52 + 2 + 6 + 2  # captioned, uncaptioned, notes, broken
    assert manifest["source"]["documents"] == documents
    assert [s["documents"] for s in manifest["shards"]] == [8] * 7 + [6]
    table = pq.read_table(shards / "shard-00000.parquet")
    assert table.column_names == [
        "doc_id",
        "modality",
        "text",
        "image_path",
        "metadata",
        "content_hash",
        "text_vector",
        "image_vector",
        "encoder_fingerprint",
    ]
    loaded = load_shards(shards)
    assert len(loaded.records) == documents - 2
    assert {r.doc_id for r in loaded.records} == {
        p.relative_to(photo_corpus).as_posix()
        for p in photo_corpus.iterdir()
        if p.suffix in (".jpg", ".txt") and p.name != "zero.jpg" and not _is_caption(p)
    }
    reasons = {Path(e.item).name: e.reason for e in loaded.errors}
    assert set(reasons) == {"zero.jpg", "corrupt.png"}
    assert "empty" in reasons["zero.jpg"] and reasons["corrupt.png"].startswith("image not indexed")
    has_image = np.array([r.image_path is not None for r in loaded.records])
    assert loaded.image is not None and loaded.text is not None
    np.testing.assert_allclose(np.linalg.norm(loaded.image[has_image], axis=1), 1, atol=1e-5)
    assert not loaded.image[~has_image].any()


def _is_caption(path: Path) -> bool:
    return path.suffix == ".txt" and path.with_suffix(".jpg").exists()


def test_store_from_shards_equals_index_source(
    shards: Path, photo_corpus: Path, tmp_path: Path, capsys
) -> None:
    status_shards, from_shards = _index([str(shards), "--into", str(tmp_path / "a")], capsys)
    status_direct, direct = _index([str(photo_corpus), "--into", str(tmp_path / "b")], capsys)

    assert status_shards == status_direct == 1  # the two broken files, reported by both
    assert from_shards["alignment"] == direct["alignment"]
    assert from_shards["alignment"].startswith("auto (fitted on 52 image+text")
    assert from_shards["added"] == direct["added"] == 60
    assert sorted(e["reason"] for e in from_shards["errors"]) == sorted(
        e["reason"] for e in direct["errors"]
    )
    for hits_a, hits_b in zip(_top10(tmp_path / "a"), _top10(tmp_path / "b"), strict=True):
        assert [d for d, _ in hits_a] == [d for d, _ in hits_b]
        np.testing.assert_allclose([s for _, s in hits_a], [s for _, s in hits_b], atol=1e-5)
    status, again = _index([str(shards), "--into", str(tmp_path / "a")], capsys)
    assert (again["added"], again["unchanged"]) == (0, 60)


def test_unfinished_shards_are_refused(shards: Path, tmp_path: Path, capsys) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(shards, partial)
    (partial / "shard-00003.parquet").unlink()

    status = main(["index", str(partial), "--into", str(tmp_path / "s"), "--no-progress"])

    assert status == 2
    assert "1 of 8 shards are not finished" in capsys.readouterr().err
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_rerun_resumes_and_a_changed_job_is_refused(tmp_path: Path, encoder, capsys) -> None:
    corpus = tmp_path / "texts.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": f"t {i}"}) + "\n" for i in range(5)))
    out = tmp_path / "out"
    first = embed(corpus, out, encoder=encoder, shard_size=2)
    (out / "shard-00001.parquet").unlink()  # as if the first run died there

    second = embed(corpus, out, encoder=encoder)  # the folder's shard size is kept

    assert first.encoded == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    assert (second.skipped, second.encoded) == (
        ["shard-00000.parquet", "shard-00002.parquet"],
        ["shard-00001.parquet"],
    )
    with corpus.open("a") as handle:
        handle.write(json.dumps({"id": "new", "text": "another"}) + "\n")
    status = main(["embed", str(corpus), "--out", str(out), "--no-progress"])
    assert status == 2 and "another job (source" in capsys.readouterr().err
    status = main(["embed", str(corpus), "--out", str(tmp_path), "--no-progress"])
    assert status == 2 and "is not a shards folder" in capsys.readouterr().err


def test_another_encoder_is_refused_by_the_folder_and_by_the_store(
    shards: Path, tmp_path: Path, capsys
) -> None:
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"id": "a", "text": "a cat"}) + "\n")
    other = tmp_path / "other"
    assert main(["embed", str(texts), "--out", str(other), "--encoder", "minilm-l6"]) == 0
    capsys.readouterr()

    status = main(["embed", str(texts), "--out", str(other), "--no-progress"])
    assert status == 2 and "another job (encoder" in capsys.readouterr().err

    store = tmp_path / "store"
    assert main(["index", str(other), "--into", str(store), "--no-progress"]) == 0
    capsys.readouterr()
    status = main(["index", str(shards), "--into", str(store), "--no-progress"])
    assert status == 2
    assert "was encoded with encoder fingerprint" in capsys.readouterr().err


def test_jsonl_corpus_and_deterministic_boundaries(
    jsonl_corpus: Path, tmp_path: Path, encoder
) -> None:
    report = embed(jsonl_corpus, tmp_path / "j", encoder=encoder, shard_size=3)
    loaded = load_shards(tmp_path / "j")

    assert [e.reason for e in report.errors] == [
        "bad JSON: Expecting property name enclosed in double quotes"
    ]
    assert [e.reason for e in loaded.errors] == [e.reason for e in report.errors]
    by_id = {r.doc_id: i for i, r in enumerate(loaded.records)}
    assert loaded.records[by_id["t2"]].metadata == {"n": 2}
    assert loaded.text is not None and loaded.image is not None
    assert not loaded.text[by_id["i1"]].any() and loaded.image[by_id["i1"]].any()
    assert not loaded.image[by_id["t0"]].any() and loaded.text[by_id["t0"]].any()
    a, b = plan_shards(jsonl_corpus, 3), plan_shards(jsonl_corpus, 3)
    assert a.fingerprint == b.fingerprint
    assert [[d.id for d in a.shard_documents(i)] for i in range(a.shard_count)] == [
        [d.id for d in b.shard_documents(i)] for i in range(b.shard_count)
    ]


def test_in_process_embed_never_imports_ray(tmp_path: Path) -> None:
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"id": "a", "text": "a cat"}) + "\n")
    script = (
        "import sys; from mixsearch.cli.main import main; "
        f"status = main(['embed', {str(texts)!r}, '--out', {str(tmp_path / 'o')!r}, "
        "'--encoder', 'minilm-l6', '--no-progress', '--json']); "
        "print('RAY' if 'ray' in sys.modules else 'NO-RAY', status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split()[-2:] == ["NO-RAY", "0"], result.stderr


def test_mixsearch_embed_is_the_public_function() -> None:
    import mixsearch
    from mixsearch.shards import embed as shards_embed

    assert mixsearch.embed is shards_embed
