"""create_encoder names and config tables, load_encoder_config, fingerprint_id."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.encoders import create_encoder, fingerprint_id, load_encoder_config
from mixsearch.encoders.factory import _config_name
from mixsearch.errors import MixsearchError


def test_unknown_name_lists_the_valid_forms():
    with pytest.raises(MixsearchError) as caught:
        create_encoder("clip-please")
    message = str(caught.value)
    for form in (
        "offline-default",
        "minilm-l6",
        "minilm-l3-onnx",
        "openclip:ARCH/TAG",
        "local-dir:",
    ):
        assert form in message


def test_config_tables_map_to_names():
    assert _config_name({"name": "minilm-l6"}) == "minilm-l6"
    assert _config_name({"kind": "offline", "topk": 10}) == "offline-default"
    openclip = {"kind": "openclip", "model": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}
    assert _config_name(openclip) == "openclip:ViT-B-32/laion2b_s34b_b79k"
    local = {"kind": "openclip", "model": "ViT-B-32", "pretrained": "/w/model.safetensors"}
    assert _config_name(local) == "openclip:ViT-B-32@/w/model.safetensors"
    assert _config_name({"model": "local-dir:/w/clip"}) == "openclip:local-dir:/w/clip"
    with pytest.raises(MixsearchError, match="needs model"):
        _config_name({"kind": "openclip"})


def test_load_encoder_config(tmp_path):
    path = tmp_path / "mixsearch.toml"
    path.write_text('[encoder]\nname = "minilm-l3-onnx"\nbatch_size = 8\n\n[store]\npath = "x"\n')
    assert load_encoder_config(path) == {"name": "minilm-l3-onnx", "batch_size": 8}
    broken = tmp_path / "broken.toml"
    broken.write_text("[encoder\nname = ")
    with pytest.raises(MixsearchError, match="invalid TOML"):
        load_encoder_config(broken)
    with pytest.raises(MixsearchError, match="not found"):
        load_encoder_config(tmp_path / "missing.toml")


def test_config_creates_a_working_encoder(tmp_path):
    path = tmp_path / "enc.toml"
    path.write_text('[encoder]\nname = "minilm-l3-onnx"\nbatch_size = 2\n')
    encoder = create_encoder(load_encoder_config(path))
    assert encoder.batch_size == 2
    vectors = encoder.encode_texts(["one", "two", "three"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert len(fingerprint_id(encoder)) == 16
    assert fingerprint_id(encoder) == fingerprint_id(create_encoder("minilm-l3-onnx"))


def test_bad_config_keys_and_options():
    with pytest.raises(MixsearchError, match="unknown \\[encoder\\] keys"):
        create_encoder({"name": "minilm-l6", "colour": "blue"})
    with pytest.raises(MixsearchError, match="does not take topk"):
        create_encoder({"name": "minilm-l3-onnx", "topk": 3})


def test_kind_openclip_and_a_name_together_are_refused():
    with pytest.raises(MixsearchError, match="both kind"):
        create_encoder({"kind": "openclip", "model": "ViT-B-32", "name": "offline-default"})


def test_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, mixsearch.encoders; "
        "print(sorted(m for m in ('torch', 'open_clip', 'timm', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
