"""mixsearch: one text query ranks text, image and image+text documents together.

Image vectors are rotated into the text space by a fitted (regularised) Procrustes map, all
documents live in one FAISS store, and a ranking layer answers text queries.
The heavy parts (torch, FAISS) are imported lazily so ``import mixsearch`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mixsearch.engine import Engine
    from mixsearch.shards import embed


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from mixsearch.engine import Engine

        return Engine
    if name == "embed":  # a corpus → Parquet embedding shards (mixsearch.shards)
        from mixsearch.shards import embed

        return embed
    raise AttributeError(name)


__all__ = ["Engine", "__version__", "embed"]
