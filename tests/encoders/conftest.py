"""Shared fixtures for the encoder tests: real packaged weights, real photos from skimage."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# CC0 photos bundled with scikit-image, each with one caption a person would write for it.
PHOTO_CAPTIONS = {
    "chelsea": "a cat lying down",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket launching into the sky",
    "astronaut": "a portrait of an astronaut in a space suit",
    "motorcycle_left": "a motorcycle parked in a garage",
    "hubble_deep_field": "galaxies in deep space seen by a telescope",
}


def skimage_photo(name: str) -> Image.Image:
    from skimage import data

    pixels = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    return Image.fromarray(np.asarray(pixels)).convert("RGB")


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    return {name: skimage_photo(name) for name in PHOTO_CAPTIONS}


@pytest.fixture(scope="session", autouse=True)
def isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep the class-prompt cache and embedding caches out of the user's home."""
    directory = tmp_path_factory.mktemp("mixsearch-cache")
    previous = os.environ.get("MIXSEARCH_CACHE_DIR")
    os.environ["MIXSEARCH_CACHE_DIR"] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop("MIXSEARCH_CACHE_DIR", None)
    else:
        os.environ["MIXSEARCH_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def offline_encoder(isolated_cache_dir: Path):
    from mixsearch.encoders import create_encoder

    return create_encoder("offline-default", device="cpu")


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory: pytest.TempPathFactory, photos) -> list[Path]:
    """The photos saved as JPEG files (what real folders hold)."""
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name, image in photos.items():
        path = folder / f"{name}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths
