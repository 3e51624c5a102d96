"""encode_documents (the encoding step of Engine.add, the shard runners and MixBench): an image file
named by several documents is encoded once, and a file that fails costs each of its documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixsearch.document_encoding import encode_documents
from mixsearch.documents import Document


@pytest.mark.slow
def test_shared_image_files_encode_once_and_fail_per_document(
    offline_encoder, photo_files: list[Path], tmp_path: Path, monkeypatch
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    cat, coffee = photo_files[0], photo_files[1]
    docs = [
        Document("a", text="a cat lying down", image=cat),
        Document("b", image=broken),
        Document("c", text="the same cat, another caption", image=cat),
        Document("d", text="a caption for a broken file", image=broken),
        Document("e", image=coffee),
        Document("f", text="text only"),
    ]
    encoded_images: list[int] = []
    forward = offline_encoder.encode_image_tensors

    def counted(batch, *args, **kwargs):
        encoded_images.append(len(batch))
        return forward(batch, *args, **kwargs)

    monkeypatch.setattr(offline_encoder, "encode_image_tensors", counted)
    raw = encode_documents(offline_encoder, docs, batch_size=2)

    assert sum(encoded_images) == 2  # cat and coffee, each once; the broken file never decodes
    assert [d.id for d in raw.documents] == ["a", "c", "e", "f"]
    assert [d.id for d in raw.failed] == ["b", "d"]
    assert [e.item for e in raw.errors] == [str(broken), str(broken)]
    assert all(e.reason.startswith("image not indexed") for e in raw.errors)
    assert raw.image is not None and raw.text is not None
    np.testing.assert_array_equal(raw.image[0], raw.image[1])  # a and c share the cat
    alone = encode_documents(offline_encoder, [Document("e", image=coffee)])
    assert alone.image is not None
    np.testing.assert_allclose(raw.image[2], alone.image[0], atol=1e-5)
    assert not raw.image[3].any() and not raw.text[2].any()  # f has no image, e no text
