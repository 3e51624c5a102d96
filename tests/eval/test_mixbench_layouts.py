"""MixBench read exactly as published: every layout of the `image` field, ids, null parts, qrels
headers, query images, missing image folders and the parquet releases, with real PNG files."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from mixsearch.documents import Modality
from mixsearch.errors import MixsearchError
from mixsearch.eval import mixbench_parquet
from mixsearch.eval.mixbench import load_mixbench

N = 9
COLOURS = ["red", "green", "blue"]


def _png_bytes(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), COLOURS[i % 3]).save(out, format="PNG")
    return out.getvalue()


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_published(
    root: Path,
    image_value=lambda i: f"{i}.png",
    ids=lambda kind, i: f"{kind}{i}",
    qrels_header: str | None = "query_id\tcorpus_id\tscore",
) -> Path:
    """A subset as MixBench25 publishes it: images in SUBSET/images/, ``image`` naming them."""
    folder = root / "MSCOCO"
    for i in range(N):
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "images" / f"{i}.png").write_bytes(_png_bytes(i))
    _write(
        folder / "queries.jsonl", [{"query_id": ids("q", i), "text": f"q {i}"} for i in range(N)]
    )
    mixed = []
    for i in range(N):
        kind = i % 3  # text, image, image+text; the dropped part is null, as published
        text = f"{COLOURS[i % 3]} square {i}" if kind != 1 else None
        image = image_value(i) if kind != 0 else None
        mixed.append({"corpus_id": ids("d", i), "text": text, "image": image})
    _write(folder / "mixed_corpus.jsonl", mixed)
    lines = [f"{ids('q', i)}\t{ids('d', i)}\t1" for i in range(N)]
    if qrels_header is not None:
        lines.insert(0, qrels_header)
    (folder / "qrels").mkdir()
    (folder / "qrels" / "qrels.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    "image_value",
    [
        pytest.param(lambda i: f"{i}.png", id="bare-names"),
        pytest.param(lambda i: f"images/{i}.png", id="images-prefix"),
        pytest.param(lambda i: f"MixBench_img/MSCOCO/images/{i}.png", id="other-tool-path"),
    ],
)
def test_every_image_layout_loads_with_zero_dropped_documents(tmp_path, image_value) -> None:
    make_published(tmp_path, image_value=image_value)
    subset = load_mixbench(tmp_path, "MSCOCO")
    assert subset.errors == []
    assert len(subset.documents) == N
    counts = {m: sum(d.modality == m for d in subset.documents) for m in Modality}
    assert counts == {Modality.TEXT: 3, Modality.IMAGE: 3, Modality.IMAGE_TEXT: 3}
    for doc in subset.documents:
        if doc.image is not None:
            assert doc.image == (tmp_path / "MSCOCO" / "images" / f"{doc.id[1:]}.png").resolve()


def test_integer_ids_and_qrels_without_a_header(tmp_path) -> None:
    make_published(
        tmp_path, ids=lambda kind, i: (100 if kind == "q" else 500) + i, qrels_header=None
    )
    subset = load_mixbench(tmp_path, "MSCOCO")
    assert subset.errors == []
    assert subset.qrels["103"] == {"503": 1.0}


@pytest.mark.parametrize("header", ["query_id\tcorpus_id\tscore", "query-id\tcorpus-id\tscore"])
def test_qrels_headers_are_skipped_not_reported(tmp_path, header) -> None:
    make_published(tmp_path, qrels_header=header)
    subset = load_mixbench(tmp_path, "MSCOCO")
    assert subset.errors == [] and len(subset.qrels) == N


def test_missing_image_folder_fails_in_one_line_saying_where_it_looked(tmp_path) -> None:
    folder = make_published(tmp_path)
    for png in (folder / "images").glob("*.png"):
        png.unlink()
    with pytest.raises(MixsearchError) as info:
        load_mixbench(tmp_path, "MSCOCO")
    message = str(info.value)
    assert "\n" not in message
    assert "6 of 6 images not found" in message and "'1.png'" in message
    assert f"{folder}/" in message and f"{folder / 'images'}/<file name>" in message


def test_a_query_image_never_makes_the_query_unusable(tmp_path) -> None:
    folder = make_published(tmp_path)
    queries = [{"query_id": f"q{i}", "text": f"q {i}", "image": f"{i}.png"} for i in range(N)]
    queries[4]["image"] = "not-downloaded.png"  # OVEN queries are image+text
    _write(folder / "queries.jsonl", queries)
    subset = load_mixbench(tmp_path, "MSCOCO")
    assert len(subset.queries) == N and subset.errors == []
    assert all(q.image_given for q in subset.queries)
    assert sum(q.image is not None for q in subset.queries) == N - 1


def _write_parquet_release(folder: Path, pa, pq) -> None:
    folder.mkdir(parents=True)
    queries = pa.table({"id": [f"q{i}" for i in range(N)], "text": [f"q {i}" for i in range(N)]})
    images = [{"bytes": _png_bytes(i), "path": None} if i % 3 else None for i in range(N)]
    corpus = pa.table(
        {
            "id": [f"d{i}" for i in range(N)],
            "text": [None if i % 3 == 1 else f"doc {i}" for i in range(N)],
            "image": pa.array(
                images, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            ),
        }
    )
    qrels = pa.table(
        {
            "query_id": [f"q{i}" for i in range(N)],
            "corpus_id": [f"d{i}" for i in range(N)],
            "score": [1] * N,
        }
    )
    pq.write_table(queries, folder / "query-00000-of-00001.parquet")
    pq.write_table(corpus, folder / "corpus-00000-of-00001.parquet")
    pq.write_table(qrels, folder / "qrel-00000-of-00001.parquet")


def test_parquet_release_with_embedded_images(tmp_path, monkeypatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr("mixsearch.eval.mixbench_folder.PARQUET_IMAGE_CACHE", tmp_path / "cache")
    _write_parquet_release(tmp_path / "MixBench2025" / "MSCOCO", pa, pq)
    subset = load_mixbench(tmp_path / "MixBench2025", "MSCOCO")
    assert subset.errors == [] and len(subset.documents) == N and len(subset.queries) == N
    with_image = [d for d in subset.documents if d.image is not None]
    assert len(with_image) == 6
    for doc in with_image:
        assert doc.image.parent == tmp_path / "cache" and doc.image.suffix == ".png"
        Image.open(doc.image).verify()  # the very bytes of the release, readable
    assert subset.qrels["q2"] == {"d2": 1.0}
    # a second load reuses the extracted files
    again = load_mixbench(tmp_path / "MixBench2025" / "MSCOCO")
    assert sorted(d.image for d in again.documents if d.image) == sorted(
        d.image for d in with_image
    )


def test_parquet_release_without_pyarrow_is_refused_naming_the_release(
    tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "MixBench2026" / "OVEN"
    folder.mkdir(parents=True)
    for split in ("query", "corpus", "qrel"):
        (folder / f"{split}-00000-of-00001.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MixsearchError) as info:
        load_mixbench(tmp_path / "MixBench2026", "OVEN")
    message = str(info.value)
    assert str(folder) in message and "mixsearch[parquet]" in message and "MixBench25" in message


def test_parquet_split_files_are_found_by_name(tmp_path) -> None:
    for name in ("data/query-0.parquet", "data/mixed_corpus-0.parquet", "corpus-0.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files = mixbench_parquet.parquet_files(tmp_path)
    assert [p.name for p in files["corpus"]] == ["mixed_corpus-0.parquet"]
    assert [p.name for p in files["query"]] == ["query-0.parquet"]
