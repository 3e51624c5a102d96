"""encode_image_files over real folders: good files encoded, bad files reported, order kept."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.encoders import create_encoder, encode_image_files, load_image
from mixsearch.errors import MixsearchError

from .test_images import make_awkward_folder

pytestmark = pytest.mark.slow


def test_awkward_folder_every_good_file_encoded_every_bad_reported(offline_encoder, tmp_path):
    good, bad = make_awkward_folder(tmp_path)
    paths = [*good.values(), *bad.values()]
    result = encode_image_files(offline_encoder, paths, batch_size=3, num_workers=1)
    assert result.indices == list(range(len(good)))
    assert result.vectors.shape == (len(good), offline_encoder.dim)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    reported = {error.item: error.reason for error in result.errors}
    assert set(reported) == {str(path) for path in bad.values()}
    for error in result.errors:
        print(error)
        assert error.reason and "\n" not in error.reason


def test_workers_and_batches_do_not_change_results(offline_encoder, photo_files):
    sequential = encode_image_files(offline_encoder, photo_files, batch_size=4, num_workers=0)
    threaded = encode_image_files(offline_encoder, photo_files, batch_size=2, num_workers=2)
    assert sequential.indices == threaded.indices == list(range(len(photo_files)))
    np.testing.assert_allclose(sequential.vectors, threaded.vectors, atol=1e-5)


def test_pipeline_matches_encode_images(offline_encoder, tmp_path, photos):
    # PNG files are decoded in full (draft decoding only applies to JPEG), so results agree.
    paths = []
    for name, image in list(photos.items())[:3]:
        paths.append(tmp_path / f"{name}.png")
        image.save(paths[-1])
    from_files = encode_image_files(offline_encoder, paths)
    direct = offline_encoder.encode_images([load_image(path) for path in paths])
    np.testing.assert_allclose(from_files.vectors, direct, atol=1e-5)


def test_text_only_encoder_is_refused():
    encoder = create_encoder("minilm-l3-onnx")
    with pytest.raises(MixsearchError, match="text-only"):
        encode_image_files(encoder, [])


def test_empty_input(offline_encoder):
    result = encode_image_files(offline_encoder, [])
    assert result.vectors.shape == (0, offline_encoder.dim) and result.indices == []
