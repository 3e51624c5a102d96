"""The plain-torch EfficientNet-lite0 against timm's tf_efficientnet_lite0, with the packaged
weights on real photos: same logits, same offline-default image vectors, and no timm import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import PHOTO_CAPTIONS

pytestmark = pytest.mark.slow

# Measured: the two models' logits are bitwise equal on CPU (same kernels in the same order);
# the tolerance only leaves room for another BLAS or device.
LOGIT_ATOL = 1e-4


@pytest.fixture(scope="module")
def timm_lite0(offline_encoder):
    """timm's own tf_efficientnet_lite0 holding the same packaged weights."""
    timm = pytest.importorskip("timm")
    import torch

    from mixsearch.encoders.offline import _lite0_timm_state

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(offline_encoder.weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(_lite0_timm_state(state, [len(s) for s in model.blocks]), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def photo_batch(offline_encoder, photos):
    import torch

    return torch.stack([offline_encoder.preprocess(image) for image in photos.values()])


def test_same_parameter_and_buffer_names_as_timm(offline_encoder, timm_lite0):
    ours, theirs = offline_encoder.classifier.state_dict(), timm_lite0.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)


def test_logits_features_and_pooled_features_match_timm(offline_encoder, timm_lite0, photo_batch):
    import torch

    ours = offline_encoder.classifier
    with torch.inference_mode():
        features = ours.forward_features(photo_batch)
        timm_features = timm_lite0.forward_features(photo_batch)
        pooled = ours.forward_head(features, pre_logits=True)
        timm_pooled = timm_lite0.forward_head(timm_features, pre_logits=True)
        logits, timm_logits = ours(photo_batch), timm_lite0(photo_batch)
    assert tuple(logits.shape) == (len(PHOTO_CAPTIONS), 1000)
    assert tuple(features.shape) == (len(PHOTO_CAPTIONS), 1280, 7, 7)
    print(f"\nmax |logit difference| vs timm: {float((logits - timm_logits).abs().max()):.3g}")
    torch.testing.assert_close(features, timm_features, atol=LOGIT_ATOL, rtol=0)
    torch.testing.assert_close(pooled, timm_pooled, atol=LOGIT_ATOL, rtol=0)
    torch.testing.assert_close(logits, timm_logits, atol=LOGIT_ATOL, rtol=0)


def test_odd_sized_input_is_padded_as_tensorflow_does(offline_encoder, timm_lite0, photos):
    """At odd sizes TF's "SAME" padding is asymmetric at every strided layer: a real photo
    scaled to 227×233 (not a multiple of 32) must still give timm's logits."""
    import torch

    image = photos["coffee"].resize((233, 227))
    pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1
    batch = torch.from_numpy(np.ascontiguousarray(pixels))[None]
    with torch.inference_mode():
        torch.testing.assert_close(
            offline_encoder.classifier(batch), timm_lite0(batch), atol=LOGIT_ATOL, rtol=0
        )


def test_image_vectors_equal_the_timm_built_pipeline(
    offline_encoder, timm_lite0, photos, photo_batch
):
    """The offline default's image vectors are what the timm-built classifier gave before:
    the same preprocessing and ConSE mixture over timm's logits."""
    import torch

    from mixsearch.encoders.offline import conse_mixture

    with torch.inference_mode():
        timm_logits = timm_lite0(photo_batch).numpy()
    expected = conse_mixture(
        timm_logits,
        offline_encoder.class_embeddings,
        offline_encoder.topk,
        offline_encoder.temperature,
    )
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    vectors = offline_encoder.encode_images(list(photos.values()))
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_class_descriptions_equal_timms_imagenet_info():
    """Read from timm's data files without importing timm, they are what ImageNetInfo gives
    (and so they still key the shipped class-prompt embeddings)."""
    pytest.importorskip("timm")
    from timm.data import ImageNetInfo

    from mixsearch.encoders.offline import imagenet_class_texts

    info = ImageNetInfo("imagenet-1k")
    expected = [info.index_to_description(i, detailed=True) for i in range(info.num_classes())]
    assert imagenet_class_texts("description") == expected


def test_encoding_an_image_imports_neither_timm_nor_torchvision(photo_files, isolated_cache_dir):
    script = (
        "import json, sys\n"
        "from PIL import Image\n"
        "from mixsearch.encoders import create_encoder\n"
        "encoder = create_encoder('offline-default', device='cpu')\n"
        f"vectors = encoder.encode_images([Image.open({str(photo_files[0])!r})])\n"
        "heavy = sorted(m for m in ('timm', 'torchvision') if m in sys.modules)\n"
        "print(json.dumps({'shape': list(vectors.shape), 'heavy': heavy}))\n"
    )
    env = {**os.environ, "MIXSEARCH_CACHE_DIR": str(isolated_cache_dir)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    *_, last = out.stdout.strip().splitlines()
    assert json.loads(last) == {"shape": [1, 384], "heavy": []}
