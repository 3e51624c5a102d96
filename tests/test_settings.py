"""`StoreSettings`: the typed record of what a store was built with, old manifests included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mixsearch.engine import Engine
from mixsearch.settings import DEFAULT_ALPHA, AlignmentChoice, StoreSettings

OLD_STORES = Path(__file__).parent / "fixtures" / "stores" / "v0.1.0"


def test_a_0_1_0_manifest_reads_with_the_choice_recovered() -> None:
    manifest = json.loads((OLD_STORES / "engine-store" / "manifest.json").read_text())
    settings = StoreSettings.from_manifest(manifest)
    assert settings.alignment_choice is AlignmentChoice.AUTO_NONE
    assert settings.alignment_choice.is_auto
    assert settings.alignment_label == "none: 1 image+text documents, fewer than 50 to fit on"
    assert settings.encoder_label.startswith("'offline-default' (")
    assert settings.encoder_fingerprint == manifest["extra"]["encoder_fingerprint"]
    assert (settings.alpha, settings.index_spec) == (DEFAULT_ALPHA, "Flat")


def test_the_choice_is_a_field_not_read_from_the_label() -> None:
    settings = StoreSettings(
        alignment_choice=AlignmentChoice.GIVEN,
        alignment_origin="fitted on my own pairs",  # a label that looks like `auto`'s
        alignment_fingerprint="abc",
        alignment_method="procrustes",
        alignment_file="alignment",
        index_spec="HNSW32",
    )
    manifest = {"extra": settings.to_extra(), "index_spec": "HNSW32"}
    assert json.loads(json.dumps(manifest)) == manifest  # plain JSON in the manifest
    back = StoreSettings.from_manifest(manifest)
    assert back == settings
    assert not back.alignment_choice.is_auto
    assert back.alignment_label == "procrustes (fitted on my own pairs)"


def test_the_engine_records_its_settings(tmp_path) -> None:
    engine = Engine.create(tmp_path / "store", encoder=None, dim=8, alignment=None, alpha=0.25)
    vectors = np.eye(8, dtype=np.float32)[:3]
    engine.add_vectors(["a", "b", "c"], vectors, np.zeros(3, np.int64))
    engine.close()
    with Engine.open(tmp_path / "store") as reopened:
        settings = reopened.settings
    assert settings.alignment_choice is AlignmentChoice.NONE
    assert settings.alpha == 0.25 and settings.encoder_spec is None
    assert settings.encoder_label == "none (vector-only store)"
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["extra"]["alignment_choice"] == "none"
