"""Corpora for the shard tests: real photos (scikit-image's, plus coco-mini's when present), some
captioned, text notes and broken files; and a JSONL corpus over the same photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

COCO = Path(__file__).parents[2].parent / "shared" / "data" / "coco-mini"
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "horse", "page")
PAIRED = 52  # image+text documents: above the 50 `auto` needs to fit an alignment
SIDE = 160  # pixels: decoding stays cheap, the model still sees a real photo


def real_photos() -> list[Image.Image]:
    import skimage.data

    photos = [Image.fromarray(np.asarray(getattr(skimage.data, n)())) for n in SKIMAGE_PHOTOS]
    if COCO.is_dir():
        photos += [Image.open(p) for p in sorted(COCO.rglob("*.jpg"))[:8]]
    return [p.convert("RGB") for p in photos]


def write_photo_corpus(folder: Path, paired: int = PAIRED, notes: int = 6) -> dict[str, str]:
    """``paired`` captioned photos (crops and flips of the real ones, so each file differs), two
    uncaptioned photos, ``notes`` text notes, and two broken images; returns broken name → the
    word its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = real_photos()
    for i in range(paired + 2):
        photo = photos[i % len(photos)]
        w, h = photo.size
        crop = photo.crop((i % 7 * w // 40, i % 5 * h // 40, w - i % 3 * w // 40, h))
        if (i // len(photos)) % 2:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crop.resize((SIDE, SIDE)).save(folder / f"photo_{i:03d}.jpg", quality=85)
        if i < paired:
            caption = f"{SKIMAGE_PHOTOS[i % len(SKIMAGE_PHOTOS)]} photo number {i}"
            (folder / f"photo_{i:03d}.txt").write_text(caption, encoding="utf-8")
    for i in range(notes):
        (folder / f"note_{i}.txt").write_text(f"a note about cats and rockets {i}", "utf-8")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    return {"zero.jpg": "empty", "corrupt.png": "image not indexed"}


def write_jsonl_corpus(path: Path, photos: Path) -> None:
    rows = [
        {"id": f"j{i}", "text": f"caption {i}", "image": f"{photos.name}/photo_{i:03d}.jpg"}
        for i in range(0, 12, 2)
    ]
    rows += [{"id": f"t{i}", "text": f"plain text {i}", "metadata": {"n": i}} for i in range(4)]
    rows += [{"id": "i1", "image": f"{photos.name}/photo_001.jpg"}]
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
