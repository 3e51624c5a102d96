# Types of the compiled hit lookup, mixsearch/store/_hit_table.c (see hit_table.py).
from types import NotImplementedType
from typing import Any

import numpy as np

from mixsearch.hit import Hit

def bind(hit_class: type[Hit], /) -> None: ...
def hits(
    scores: np.ndarray,
    faiss_ids: np.ndarray,
    arrays: tuple[str, Any, bytes, Any, int, tuple[Any, ...]],
    source: Any,
    /,
) -> list[list[Hit]] | NotImplementedType: ...
