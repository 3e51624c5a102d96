"""JSON for results that hold numpy values or objects with ``to_dict`` (hits, reports)."""

from __future__ import annotations

from typing import Any


def json_default(obj: Any) -> Any:
    """``json.dumps(..., default=json_default)``: numpy scalars/arrays and ``to_dict`` objects."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)
