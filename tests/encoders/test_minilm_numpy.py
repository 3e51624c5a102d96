"""The numpy MiniLM forward (queries) and the torch one (bulk) give sentence-transformers'
vectors, and the numpy one reads the safetensors file correctly."""

from __future__ import annotations

import numpy as np


def test_numpy_and_torch_paths_equal_the_sentence_transformers_pipeline():
    from sentence_transformers import SentenceTransformer

    from mixsearch.encoders.offline import NUMPY_MAX_BATCH, MiniLMEncoder, minilm_model_dir

    texts = [
        "a dog",
        "A group of people are riding horses at a park.",
        "word " * 400,  # truncated at 256 tokens
        "",
        "Ünïcödé café, naïve résumé 東京",
    ] * 2
    encoder = MiniLMEncoder(device="cpu")
    numpy_path = encoder.encode_texts(texts, batch_size=NUMPY_MAX_BATCH // 2)
    assert encoder._torch_model is None  # small batches never loaded torch's model
    torch_path = encoder.encode_texts(texts, batch_size=len(texts))
    assert encoder._torch_model is not None
    reference = SentenceTransformer(str(minilm_model_dir()), device="cpu").encode(texts)
    np.testing.assert_allclose(numpy_path, reference, atol=1e-5)
    np.testing.assert_allclose(torch_path, reference, atol=1e-5)


def test_safetensors_memory_map_matches_the_library_reader():
    from safetensors.numpy import load_file

    from mixsearch.encoders.minilm_numpy import load_safetensors
    from mixsearch.encoders.offline import minilm_model_dir

    path = minilm_model_dir() / "model.safetensors"
    ours, theirs = load_safetensors(path), load_file(str(path))
    assert set(ours) == set(theirs)
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.bias"):
        np.testing.assert_array_equal(ours[name], theirs[name])
