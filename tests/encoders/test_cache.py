"""EmbeddingCache on real SQLite, and the pipeline's use of it (no decode, no forward on a hit)."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from mixsearch.encoders import EmbeddingCache, encode_image_files, encode_texts_cached
from mixsearch.encoders.cache import DB_NAME, default_cache_dir


def test_round_trip_and_key_separation(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 8)).astype(np.float32)
    with EmbeddingCache(tmp_path) as cache:
        cache.put_many("enc-a", "image", {"h1": vectors[0], "h2": vectors[1]})
        cache.put_many("enc-b", "image", [("h1", vectors[2])])
        found = cache.get_many("enc-a", "image", ["h1", "h2", "h3"])
        assert set(found) == {"h1", "h2"}
        np.testing.assert_array_equal(found["h1"], vectors[0])
        assert found["h1"].dtype == np.float32
        np.testing.assert_array_equal(cache.get_many("enc-b", "image", ["h1"])["h1"], vectors[2])
        assert cache.get_many("enc-a", "text", ["h1"]) == {}
        assert cache.count() == 3 and cache.count("enc-a") == 2
    with EmbeddingCache(tmp_path) as reopened:  # persisted on disk
        np.testing.assert_array_equal(reopened.get_many("enc-a", "image", ["h2"])["h2"], vectors[1])
    mode = sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_many_keys_in_one_lookup(tmp_path):
    with EmbeddingCache(tmp_path) as cache:
        items = {f"h{i}": np.full(4, i, dtype=np.float32) for i in range(1200)}
        cache.put_many("enc", "text", items)
        found = cache.get_many("enc", "text", list(items))
        assert len(found) == 1200 and float(found["h1199"][0]) == 1199.0


def test_default_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXSEARCH_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("MIXSEARCH_CACHE_DIR")
    assert default_cache_dir().parts[-3:] == (".cache", "mixsearch", "embeddings")


def count_calls(monkeypatch, encoder, method: str) -> list[int]:
    """Wrap a real encoder method to count calls (the method still runs)."""
    calls: list[int] = []
    original = getattr(encoder, method)

    def counted(batch, *args, **kwargs):
        calls.append(len(batch))
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(encoder, method, counted)
    return calls


@pytest.mark.slow
def test_second_image_run_does_no_forward_pass(offline_encoder, photo_files, tmp_path, monkeypatch):
    forwards = count_calls(monkeypatch, offline_encoder, "encode_image_tensors")
    cache = EmbeddingCache(tmp_path / "cache")
    first = encode_image_files(offline_encoder, photo_files, batch_size=4, cache=cache)
    assert sum(forwards) == len(photo_files) and first.cached == 0
    forwards.clear()
    second = encode_image_files(offline_encoder, photo_files, batch_size=4, cache=cache)
    assert forwards == [] and second.cached == len(photo_files)
    assert second.indices == first.indices
    np.testing.assert_array_equal(second.vectors, first.vectors)
    # A renamed copy has the same bytes, so it hits the cache too.
    copy = tmp_path / "renamed.jpg"
    shutil.copy(photo_files[0], copy)
    third = encode_image_files(offline_encoder, [copy], cache=cache)
    assert forwards == [] and third.cached == 1
    np.testing.assert_array_equal(third.vectors[0], first.vectors[0])


@pytest.mark.slow
def test_second_text_run_does_no_forward_pass(offline_encoder, tmp_path, monkeypatch):
    forwards = count_calls(monkeypatch, offline_encoder, "encode_texts")
    cache = EmbeddingCache(tmp_path)
    texts = ["a cat", "a dog", "a cat", "coffee"]
    first = encode_texts_cached(offline_encoder, texts, cache=cache)
    assert forwards == [3]  # the repeated text is encoded once
    second = encode_texts_cached(offline_encoder, texts, cache=cache)
    assert forwards == [3]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[0], first[2])
    assert first.dtype == np.float32 and first.shape == (4, 384)
    encode_texts_cached(offline_encoder, ["a cat", "a new text"], cache=cache)
    assert forwards == [3, 1]
