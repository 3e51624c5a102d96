"""The offline default's 1000 class-prompt embeddings ship with the package (a new machine never
spends the ~48 s embedding them), equal a fresh computation, and a prompt set that was not shipped
is computed once and then read from the user's cache."""

from __future__ import annotations

import numpy as np
import pytest

from mixsearch.encoders import class_prompts
from mixsearch.encoders.offline import OfflineDefaultEncoder


@pytest.fixture
def fresh_lookup(tmp_path, monkeypatch):
    """An empty user cache and an empty per-process memo."""
    monkeypatch.setenv("MIXSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(class_prompts, "_MEMO", {})
    return tmp_path / "cache"


def test_the_default_prompt_set_is_shipped_and_read_without_computing(fresh_lookup) -> None:
    encoder = OfflineDefaultEncoder()
    shipped = class_prompts.shipped_path(encoder.class_prompt_key())
    assert shipped.is_file(), "rerun python -m mixsearch.encoders.class_prompts"
    vectors = encoder.class_embeddings
    assert vectors.shape == (1000, encoder.dim) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, np.load(shipped, allow_pickle=False))
    assert not fresh_lookup.exists()  # nothing computed, nothing written to the user's cache


def test_shipped_rows_equal_a_fresh_computation() -> None:
    encoder = OfflineDefaultEncoder()
    shipped = np.load(class_prompts.shipped_path(encoder.class_prompt_key()), allow_pickle=False)
    rows = np.random.default_rng(7).choice(1000, size=16, replace=False)
    prompts = [encoder.class_prompts()[i] for i in rows]
    fresh = encoder.text_encoder.encode_texts(prompts, batch_size=8, normalize=True)
    np.testing.assert_allclose(shipped[rows], fresh, atol=1e-5)


def test_a_prompt_set_not_shipped_is_computed_once_then_read_from_the_cache(
    fresh_lookup, monkeypatch
) -> None:
    encoder = OfflineDefaultEncoder().text_encoder
    prompts = ["a photo of a zebra", "a photo of a teapot"]
    key = class_prompts.prompt_key("not-a-shipped-model", prompts)
    assert not class_prompts.shipped_path(key).exists()
    first = class_prompts.class_prompt_embeddings(key, prompts, encoder)
    cached = fresh_lookup / class_prompts.file_name(key)
    assert cached.is_file()
    np.testing.assert_array_equal(np.load(cached, allow_pickle=False), first)

    monkeypatch.setattr(class_prompts, "_MEMO", {})  # a new process: memo empty, cache filled
    np.save(cached, first * 0 + 1, allow_pickle=False)  # marks what a read returns
    again = class_prompts.class_prompt_embeddings(key, prompts, encoder)
    assert (again == 1).all()  # read from the cache file, not recomputed
