"""OpenCLIP encoder: a real (random-initialised, tiny) open_clip model saved and reloaded offline."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
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


UNREACHABLE_SCRIPT = """
import json, sys, time
import open_clip  # imported before the clock starts: the time shown is the wait for the hub
from mixsearch.encoders import create_encoder
started = time.monotonic()
try:
    create_encoder(sys.argv[1], device="cpu")
    outcome = {"type": None, "message": ""}
except Exception as err:
    from mixsearch.errors import MixsearchError
    outcome = {
        "type": type(err).__name__,
        "user_error": isinstance(err, MixsearchError),
        "message": str(err),
    }
outcome["elapsed"] = time.monotonic() - started
print(json.dumps(outcome))
"""


@pytest.mark.parametrize(
    "spec",
    [
        "openclip:ViT-B-32/laion2b_s34b_b79k",
        "openclip:hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ],
)
def test_unreachable_hub_without_offline_mode_is_one_clear_error(spec, tmp_path):
    """No HF_HUB_OFFLINE, an empty Hugging Face cache, and a hub endpoint on a closed local port.

    Run in a fresh interpreter because huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and
    HF_HUB_OFFLINE once, at import: this is the environment a user without internet has.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(
        HF_ENDPOINT="http://127.0.0.1:9",  # the discard port: nothing listens there
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_CACHE=str(tmp_path / "hf-cache"),  # so weights cached on this machine are not found
    )
    run = subprocess.run(
        [sys.executable, "-c", UNREACHABLE_SCRIPT, spec], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"\nunreachable hub: create_encoder({spec!r}) failed after {outcome['elapsed']:.2f} s")
    assert outcome["type"] == "WeightsUnavailableError" and outcome["user_error"], outcome
    message = outcome["message"]
    assert spec in message and "http://127.0.0.1:9 does not answer" in message
    assert "local-dir:" in message and "@/path/to/" in message and "offline-default" in message
    assert "Traceback" not in message and "\n" not in message


TINY_TAG = "random_init_test"
TINY_HUB_REPO = "mixsearch-test/tiny-clip-random-init"  # never on the hub: only in a temp cache


def _put_in_hf_cache(cache: Path, repo: str, filename: str, source: Path) -> Path:
    """Lay a file out as huggingface_hub caches a download of ``repo`` at ``main``:
    blobs/<sha256>, snapshots/<commit>/<filename> -> ../../blobs/<sha256>, refs/main = <commit>.
    Call it once per file of the repo."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    data = source.read_bytes()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = folder / "snapshots" / commit / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.symlink_to(Path("..", "..", "blobs", blob.name))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return snapshot


def _reference_transform_then_no_network(monkeypatch, *args, **kwargs):
    """open_clip's own loading in offline mode (the reference for the preprocessing), then offline
    mode off and every network attempt recorded: (reference transform, list of attempts)."""
    import huggingface_hub
    import open_clip

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    _, _, transform = open_clip.create_model_and_transforms(*args, **kwargs)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return transform, _no_network(monkeypatch)


def _no_network(monkeypatch) -> list[object]:
    """Make every DNS lookup and socket connect fail, and record the attempts."""
    attempts: list[object] = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network used in a test that must not touch it")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    return attempts


def test_pretrained_tag_in_the_hf_cache_loads_with_no_network(
    tiny_checkpoints, photos, tmp_path, monkeypatch
):
    """A pretrained tag (registered for this test) whose weights — the random-initialised tiny
    CLIP — sit in a temporary Hugging Face cache loads without offline mode and without network."""
    import huggingface_hub.constants
    import open_clip
    import open_clip.pretrained

    from mixsearch.encoders.base import file_sha256

    cached = _put_in_hf_cache(
        tmp_path / "hf-cache",
        TINY_HUB_REPO,
        "open_clip_model.safetensors",  # the .safetensors open_clip looks for before the .bin
        tiny_checkpoints["folder"] / "tiny.safetensors",
    )
    tag_cfg = {
        "hf_hub": TINY_HUB_REPO + "/",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.25, 0.25, 0.25),
        "interpolation": "bilinear",
        "resize_mode": "squash",
    }
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY, {TINY_TAG: tag_cfg})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    tag_transform, attempts = _reference_transform_then_no_network(
        monkeypatch, TINY, pretrained=TINY_TAG
    )
    encoder = create_encoder(f"openclip:{TINY}/{TINY_TAG}", device="cpu")
    assert attempts == []
    assert encoder.weights_file == cached
    assert encoder.weights_sha256() == file_sha256(tiny_checkpoints["folder"] / "tiny.safetensors")
    assert repr(encoder.image_transform) == repr(tag_transform)
    images = list(photos.values())[:3]
    want_text, want_image = reference_vectors(tiny_checkpoints["model"], tag_transform, images)
    np.testing.assert_allclose(encoder.encode_texts(TEXTS), want_text, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_images(images), want_image, atol=1e-5)


def test_hf_hub_repo_in_the_hf_cache_loads_with_no_network(
    tiny_checkpoints, photos, tmp_path, monkeypatch
):
    """An ``hf-hub:`` repo (never on the hub) laid out in a temporary Hugging Face cache, holding
    the random-initialised tiny CLIP as open_clip_model.safetensors and, as a decoy, perturbed
    random weights as open_clip_pytorch_model.bin: it loads without offline mode and without
    network, from the .safetensors (open_clip's first choice), with the config's preprocess_cfg."""
    import huggingface_hub.constants
    import torch
    from safetensors.torch import load_file

    from mixsearch.encoders.base import file_sha256

    folder, cache = tiny_checkpoints["folder"], tmp_path / "hf-cache"
    preprocess_cfg = {
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "interpolation": "bilinear",
        "resize_mode": "squash",
    }
    config = tmp_path / "open_clip_config.json"
    config.write_text(json.dumps({"model_cfg": TINY_CONFIG, "preprocess_cfg": preprocess_cfg}))
    _put_in_hf_cache(cache, TINY_HUB_REPO, "open_clip_config.json", config)
    cached = _put_in_hf_cache(
        cache, TINY_HUB_REPO, "open_clip_model.safetensors", folder / "tiny.safetensors"
    )
    _save_perturbed(folder / "tiny.safetensors", tmp_path / "perturbed.safetensors")
    torch.save(load_file(tmp_path / "perturbed.safetensors"), tmp_path / "perturbed.bin")
    _put_in_hf_cache(
        cache, TINY_HUB_REPO, "open_clip_pytorch_model.bin", tmp_path / "perturbed.bin"
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    hub_transform, attempts = _reference_transform_then_no_network(
        monkeypatch, "hf-hub:" + TINY_HUB_REPO
    )
    encoder = create_encoder(f"openclip:hf-hub:{TINY_HUB_REPO}", device="cpu")
    assert attempts == []
    assert encoder.weights_file == cached
    assert encoder.weights_sha256() == file_sha256(folder / "tiny.safetensors")
    assert encoder.fingerprint()["architecture"] == "hf-hub:" + TINY_HUB_REPO
    assert repr(encoder.image_transform) == repr(hub_transform)
    assert "bilinear" in repr(hub_transform)  # the config's preprocess_cfg, not the defaults
    images = list(photos.values())[:3]
    want_text, want_image = reference_vectors(tiny_checkpoints["model"], hub_transform, images)
    np.testing.assert_allclose(encoder.encode_texts(TEXTS), want_text, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_images(images), want_image, atol=1e-5)


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


def test_auto_precision_is_fp32_on_the_cpu(tiny_checkpoints):
    # The presets say precision = "auto" so that they run on machines without CUDA too.
    spec = f"openclip:{TINY}@{tiny_checkpoints['folder'] / 'tiny.safetensors'}"
    encoder = create_encoder({"name": spec, "precision": "auto"}, device="cpu")
    assert encoder.precision == "fp32"
