"""The engine end to end on real photos and the real offline encoder, store and alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixsearch.align import fit_alignment
from mixsearch.corpus import read_folder
from mixsearch.documents import Document, Modality
from mixsearch.engine import Engine
from mixsearch.errors import MixsearchError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder():
    from mixsearch.encoders import create_encoder

    return create_encoder("offline-default", device="cpu")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "sample_corpus", Path(__file__).parents[1] / "scripts" / "sample_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    out = tmp_path_factory.mktemp("corpus")
    module.write_sample_corpus(out)
    return out


def _engine(tmp_path: Path, encoder, corpus: Path, **kwargs) -> Engine:
    engine = Engine.create(tmp_path / "store", encoder, **kwargs)
    report = engine.add(read_folder(corpus).documents)
    assert report.errors == []
    return engine


def test_one_query_ranks_all_three_modalities(tmp_path: Path, encoder, corpus: Path) -> None:
    engine = _engine(tmp_path, encoder, corpus, alignment="none", index="Flat")

    hits = engine.search("a cat", k=len(engine.store))

    assert {h.modality for h in hits} == set(Modality)
    assert hits[0].doc_id in {"chelsea.jpg", "cats.txt"}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_fused_document_score_equals_the_mixbench_formula(
    tmp_path: Path, encoder, corpus: Path
) -> None:
    from mixsearch.encoders import encode_image_files

    engine = _engine(tmp_path, encoder, corpus, alignment="none", index="Flat", alpha=0.3)
    caption = (corpus / "coffee.txt").read_text(encoding="utf-8")
    t = encoder.encode_texts([caption])[0]
    i = encode_image_files(encoder, [corpus / "coffee.jpg"]).vectors[0]
    q = encoder.encode_texts(["a cup of coffee"])[0]
    fused = 0.3 * t + 0.7 * i
    expected = float(q @ (fused / np.linalg.norm(fused)))

    hit = next(h for h in engine.search("a cup of coffee", k=30) if h.doc_id == "coffee.jpg")

    assert hit.modality == Modality.IMAGE_TEXT
    assert hit.score == pytest.approx(expected, abs=1e-5)


def test_fused_score_with_a_fitted_alignment(tmp_path: Path, encoder, corpus: Path) -> None:
    from mixsearch.encoders import encode_image_files

    rng = np.random.default_rng(0)
    source = rng.normal(size=(300, encoder.dim)).astype(np.float32)
    target = source + 0.3 * rng.normal(size=source.shape).astype(np.float32)
    alignment = fit_alignment(source, target, method="procrustes")
    engine = _engine(tmp_path, encoder, corpus, alignment=alignment, index="Flat")
    caption = (corpus / "rocket.txt").read_text(encoding="utf-8")
    t = alignment.transform(encoder.encode_texts([caption]), side="target", normalize=False)[0]
    img = encode_image_files(encoder, [corpus / "rocket.jpg"]).vectors
    i = alignment.transform(img, side="source", normalize=False)[0]
    q = alignment.transform(encoder.encode_texts(["rocket"]), side="query", normalize=True)[0]
    fused = 0.5 * t + 0.5 * i
    expected = float(q @ (fused / np.linalg.norm(fused)))

    hit = next(h for h in engine.search("rocket", k=30) if h.doc_id == "rocket.jpg")

    assert hit.score == pytest.approx(expected, abs=1e-5)


def test_reopen_add_update_remove_round_trip(tmp_path: Path, encoder, corpus: Path) -> None:
    engine = _engine(tmp_path, encoder, corpus, alignment="none", index="Flat")
    count = len(engine.store)
    engine.close()

    engine = Engine.open(tmp_path / "store", encoder=encoder)
    again = engine.add(read_folder(corpus).documents)
    assert (again.added, again.updated, again.unchanged) == (0, 0, count)
    assert again.alignment == "none"  # the store's alignment, also when nothing was encoded

    changed = Document("horses.txt", text="A red tractor ploughing a field.")
    new = Document("new.txt", text="A sailing boat on a calm lake.")
    report = engine.add([changed, new])
    assert (report.added, report.updated) == (1, 1)
    assert engine.search("sailing boat", k=1)[0].doc_id == "new.txt"
    assert engine.search("tractor ploughing", k=1)[0].doc_id == "horses.txt"

    removed, missing = engine.remove(["new.txt", "not-there"])
    assert (removed, missing) == (1, ["not-there"])
    engine.close()
    engine = Engine.open(tmp_path / "store", encoder=encoder)
    assert len(engine.store) == count
    assert all(h.doc_id != "new.txt" for h in engine.search("sailing boat", k=count))


def test_modality_and_metadata_filters(tmp_path: Path, encoder, corpus: Path) -> None:
    engine = _engine(tmp_path, encoder, corpus, alignment="none", index="Flat")
    engine.add(
        [
            Document(f"m{y}", text=f"report of the year {y}", metadata={"year": y})
            for y in range(2000, 2010)
        ]
    )

    images = engine.search("a cat", k=5, modality="image")
    recent = engine.search("report", k=20, where={"year": {"gte": 2005}})

    assert images and all(h.modality == Modality.IMAGE for h in images)
    assert sorted(h.metadata["year"] for h in recent) == list(range(2005, 2010))


def test_store_refuses_another_encoder(tmp_path: Path, encoder, corpus: Path) -> None:
    from mixsearch.encoders import create_encoder

    _engine(tmp_path, encoder, corpus, alignment="none", index="Flat").close()
    other = create_encoder("minilm-l6")

    engine = Engine.open(tmp_path / "store", encoder=other)
    with pytest.raises(MixsearchError, match="was built with encoder"):
        engine.search("a cat")


def test_another_encoder_is_refused_before_any_document_is_read(
    tmp_path: Path, encoder, corpus: Path
) -> None:
    _engine(tmp_path, encoder, corpus, alignment="none", index="Flat").close()

    def documents():
        raise AssertionError("documents were read before the encoder was checked")
        yield  # pragma: no cover

    engine = Engine.open(tmp_path / "store", encoder="minilm-l6")
    with pytest.raises(MixsearchError, match="was built with encoder 'offline-default'"):
        engine.add(documents())


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("NOTASPEC", "invalid index spec 'NOTASPEC': not a FAISS factory string"),
        ("PQ7", "index spec 'PQ7' does not fit dimension 384"),
    ],
)
def test_create_refuses_a_bad_index_spec_at_once(tmp_path: Path, index: str, message: str) -> None:
    with pytest.raises(MixsearchError, match=message) as err:
        Engine.create(tmp_path / "store", None, dim=384, index=index)
    assert "faiss::" not in str(err.value) and ".cpp" not in str(err.value)
    assert not (tmp_path / "store").exists()


def test_store_reopens_with_the_encoder_settings_it_was_built_with(
    tmp_path: Path, corpus: Path
) -> None:
    # Non-default ConSE settings given by name-and-options: reopening without naming the encoder
    # must rebuild exactly these settings from the manifest, not today's defaults.
    settings = {"name": "offline-default", "temperature": 1.0, "class_text": "name"}
    engine = Engine.create(tmp_path / "store", settings, alignment="none", index="Flat")
    engine.add(read_folder(corpus).documents)
    expected = engine.search("a cat", k=3)
    engine.close()

    reopened = Engine.open(tmp_path / "store")
    recorded = reopened.info()["extra"]["encoder_spec"]
    assert recorded == {**settings, "topk": 50}
    assert reopened.encoder.config() == recorded
    assert [h.doc_id for h in reopened.search("a cat", k=3)] == [h.doc_id for h in expected]


def test_bridge_needs_matching_fingerprints(tmp_path: Path, encoder, corpus: Path) -> None:
    engine = _engine(tmp_path, encoder, corpus, alignment="none", index="Flat")
    with pytest.raises(MixsearchError, match="needs a bridge"):
        engine.search("a cat", query_encoder="minilm-l3-onnx")
    words = (corpus / "cats.txt").read_text(encoding="utf-8").split()
    texts = [f"{w} and {v}" for w in words for v in words]
    bridge = engine.fit_bridge("minilm-l3-onnx", texts, method="procrustes")
    hits = engine.search("a cat", query_encoder="minilm-l3-onnx", bridge=bridge)
    assert len(hits) == 10
    bridge.extra["target_fingerprint"] = "0" * 16
    with pytest.raises(MixsearchError, match="fit a bridge for this pair"):
        engine.search("a cat", query_encoder="minilm-l3-onnx", bridge=bridge)
