"""Write the demo's small mixed corpus: real CC0 photos from scikit-image plus text-only notes.

    python scripts/sample_corpus.py OUT_DIR

Image+text documents are photos with a same-stem .txt caption; image-only documents are photos
alone; text-only documents are .txt files with no image. The photos ship inside scikit-image
(public domain / CC0, see skimage.data), so this works offline on a fresh machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# photo name in skimage.data → caption (None: an image-only document)
PHOTOS: dict[str, str | None] = {
    "chelsea": "A tabby cat with green eyes looking to the side.",
    "coffee": "A cup of coffee with latte art on a saucer.",
    "rocket": "A rocket lifting off from the launch pad into the sky.",
    "astronaut": "Portrait of an astronaut in a spacesuit in front of a flag.",
    "hubble_deep_field": None,
    "camera": None,
    "clock": None,
    "coins": None,
    "moon": None,
}

NOTES: dict[str, str] = {
    "cats.txt": "Domestic cats sleep most of the day and hunt mice at night.",
    "espresso.md": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
    "launch.txt": "The space shuttle launch was delayed by strong winds over the launch site.",
    "horses.txt": "A man riding a horse along the beach at sunset.",
    "galaxies.txt": "Deep telescope images reveal thousands of distant galaxies in a tiny patch of sky.",
    "watchmaking.txt": "A watchmaker repairs the gears of an old mechanical clock.",
}


def write_sample_corpus(out: Path) -> int:
    """Write the corpus into ``out``; returns the number of documents."""
    import numpy as np
    import skimage.data
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for name, caption in PHOTOS.items():
        pixels = np.asarray(getattr(skimage.data, name)())
        Image.fromarray(pixels).convert("RGB").save(out / f"{name}.jpg", quality=92)
        if caption is not None:
            (out / f"{name}.txt").write_text(caption + "\n", encoding="utf-8")
    for filename, text in NOTES.items():
        (out / filename).write_text(text + "\n", encoding="utf-8")
    return len(PHOTOS) + len(NOTES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    count = write_sample_corpus(args.out)
    print(f"wrote {count} documents to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
