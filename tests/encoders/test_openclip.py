"""OpenCLIP encoder: a real (random-initialised, tiny) open_clip model saved and reloaded offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixsearch.encoders import create_encoder, fingerprint_id
from mixsearch.encoders.openclip import parse_openclip_spec
from mixsearch.errors import MixsearchError

pytestmark = pytest.mark.slow

TINY = "mixsearch-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TEXTS = ["a cat on a sofa", "a red rocket", "coffee"]


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """A random-initialised tiny CLIP, its reference outputs, and three offline copies of it."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-clip")
    (folder / f"{TINY}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / f"{TINY}.json")
    torch.manual_seed(0)
    model, _, transform = open_clip.create_model_and_transforms(TINY)
    model.eval()
    state = model.state_dict()
    save_file(state, folder / "tiny.safetensors")
    torch.save(state, folder / "tiny.pt")
    local_dir = folder / "local"
    local_dir.mkdir()
    (local_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CONFIG}))
    save_file(state, local_dir / "open_clip_model.safetensors")
    return {"folder": folder, "model": model, "transform": transform}


def reference_vectors(model, transform, images):
    import open_clip
    import torch

    with torch.inference_mode():
        texts = model.encode_text(open_clip.get_tokenizer(TINY)(TEXTS))
        pixels = model.encode_image(torch.stack([transform(image) for image in images]))
    normalise = torch.nn.functional.normalize
    return normalise(texts, dim=-1).numpy(), normalise(pixels, dim=-1).numpy()


def test_local_checkpoints_reload_with_identical_outputs(tiny_checkpoints, photos):
    folder = tiny_checkpoints["folder"]
    images = list(photos.values())[:3]
    want_text, want_image = reference_vectors(
        tiny_checkpoints["model"], tiny_checkpoints["transform"], images
    )
    specs = [
        f"openclip:{TINY}@{folder / 'tiny.safetensors'}",
        f"openclip:{TINY}@{folder / 'tiny.pt'}",
        f"openclip:local-dir:{folder / 'local'}",
    ]
    for spec in specs:
        encoder = create_encoder(spec, device="cpu")
        assert encoder.dim == 32
        texts = encoder.encode_texts(TEXTS, batch_size=2)
        pixels = encoder.encode_images(images, batch_size=2)
        assert texts.dtype == np.float32 and pixels.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(pixels, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(texts, want_text, atol=1e-5, err_msg=spec)
        np.testing.assert_allclose(pixels, want_image, atol=1e-5, err_msg=spec)


def test_fingerprint_follows_the_weights_not_the_path(tiny_checkpoints, tmp_path):
    folder = tiny_checkpoints["folder"]
    first = create_encoder(f"openclip:{TINY}@{folder / 'tiny.safetensors'}", device="cpu")
    moved = tmp_path / "elsewhere.safetensors"
    moved.write_bytes((folder / "tiny.safetensors").read_bytes())
    second = create_encoder(f"openclip:{TINY}@{moved}", device="cpu")
    assert fingerprint_id(first) == fingerprint_id(second)
    altered = tmp_path / "altered.safetensors"
    _save_perturbed(folder / "tiny.safetensors", altered)
    third = create_encoder(f"openclip:{TINY}@{altered}", device="cpu")
    assert fingerprint_id(third) != fingerprint_id(first)


def _save_perturbed(source: Path, target: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(source)
    state["logit_scale"] = state["logit_scale"] + 1.0
    save_file(state, target)


def test_download_needed_offline_is_one_clear_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(MixsearchError) as caught:
        create_encoder("openclip:ViT-B-32/laion2b_s34b_b79k", device="cpu")
    message = str(caught.value)
    assert "ViT-B-32/laion2b_s34b_b79k" in message
    assert "local-dir:" in message and "@/path/to/" in message and "offline-default" in message
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("openclip:ViT-B-32", "use 'openclip:ARCH/TAG'"),
        ("openclip:No-Such-Arch/some_tag", "unknown open_clip architecture"),
        ("openclip:ViT-B-32/no_such_tag", "unknown pretrained tag"),
        ("openclip:ViT-B-32@/definitely/missing.safetensors", "checkpoint file not found"),
        ("openclip:local-dir:/definitely/missing", "open_clip_config.json is missing"),
    ],
)
def test_bad_specs_are_clear_errors(spec, fragment):
    with pytest.raises(MixsearchError, match=fragment):
        create_encoder(spec, device="cpu")


def test_spec_parsing():
    parsed = parse_openclip_spec("openclip:ViT-B-32/laion2b_s34b_b79k")
    assert (parsed.model_name, parsed.pretrained) == ("ViT-B-32", "laion2b_s34b_b79k")
    hub = parse_openclip_spec("openclip:hf-hub:org/repo")
    assert (hub.model_name, hub.pretrained) == ("hf-hub:org/repo", None)


def test_half_precision_needs_cuda(tiny_checkpoints):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present; fp16 is allowed here")
    spec = f"openclip:{TINY}@{tiny_checkpoints['folder'] / 'tiny.safetensors'}"
    with pytest.raises(MixsearchError, match="needs a CUDA device"):
        create_encoder({"name": spec, "precision": "fp16"}, device="cpu")
