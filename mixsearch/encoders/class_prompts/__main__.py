"""``python -m mixsearch.encoders.class_prompts``: (re)write the shipped class-prompt embeddings
of the offline default (its default prompt set) into this package folder; older files go."""

from __future__ import annotations

import sys

from mixsearch.encoders.class_prompts import file_name, shipped_path
from mixsearch.encoders.offline import OfflineDefaultEncoder
from mixsearch.vectors import atomic_save_npy


def main() -> int:
    encoder = OfflineDefaultEncoder()
    key = encoder.class_prompt_key()
    target = shipped_path(key)
    vectors = encoder.text_encoder.encode_texts(
        encoder.class_prompts(), batch_size=128, normalize=True
    )
    for old in target.parent.glob(file_name("*")):
        if old != target:
            old.unlink()
    atomic_save_npy(target, vectors)
    print(f"wrote {target} {vectors.shape}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
