"""Input checks for the alignment layer, in one place so every entry point says the same thing.

Each check raises `MixsearchError` with one line naming the input and the reason: arrays that
are not 2-D float matrices, paired arrays with different row counts, NaN/inf or all-zero rows
(with the first few row indices), fewer pairs than cross-validation folds, a missing file, an
unknown side name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixsearch.errors import MixsearchError

SIDES = ("source", "target", "query")
MAX_LISTED_ROWS = 5


def check_side(side: str) -> str:
    if side not in SIDES:
        raise MixsearchError(f"unknown side {side!r}; use one of {', '.join(SIDES)}")
    return side


def as_matrix(x: object, name: str) -> np.ndarray:
    """``x`` as a 2-D numeric array (no copy when it already is one), or a clear error."""
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise MixsearchError(f"{name}: rows have different lengths ({err})") from None
    if arr.dtype == object:
        raise MixsearchError(f"{name}: rows have different lengths or hold non-numbers")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise MixsearchError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise MixsearchError(f"{name}: expected a 2-D array [rows, dim], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MixsearchError(f"{name}: empty array of shape {arr.shape}")
    return arr


def check_pair_rows(source: np.ndarray, target: np.ndarray) -> None:
    if source.shape[0] != target.shape[0]:
        raise MixsearchError(
            f"source has {source.shape[0]} rows but target has {target.shape[0]}; "
            "row i of each must be the same item"
        )


def check_folds(n_pairs: int, folds: int) -> None:
    if folds < 2:
        raise MixsearchError(f"folds must be at least 2, got {folds}")
    if n_pairs < folds:
        raise MixsearchError(f"{n_pairs} pairs are fewer than the {folds} cross-validation folds")


def bad_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices holding NaN/inf, and row indices that are all zeros."""
    finite = np.isfinite(x).all(axis=1)
    nonfinite = np.flatnonzero(~finite)
    zero = np.flatnonzero(finite & ~np.any(x != 0, axis=1))
    return nonfinite, zero


def check_rows(x: np.ndarray, name: str, offset: int = 0) -> None:
    """Raise on NaN/inf or all-zero rows; indices are reported relative to ``offset``."""
    nonfinite, zero = bad_rows(x)
    raise_bad_rows(name, nonfinite + offset, len(nonfinite), zero + offset, len(zero))


def raise_bad_rows(
    name: str, nonfinite: np.ndarray, n_nonfinite: int, zero: np.ndarray, n_zero: int
) -> None:
    if n_nonfinite:
        raise MixsearchError(f"{name}: {_rows_text(nonfinite, n_nonfinite)} hold NaN or inf")
    if n_zero:
        raise MixsearchError(
            f"{name}: {_rows_text(zero, n_zero)} are all zeros (no direction to align)"
        )


def _rows_text(indices: np.ndarray, total: int) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:MAX_LISTED_ROWS])
    more = f" and {total - MAX_LISTED_ROWS} more" if total > MAX_LISTED_ROWS else ""
    return f"{total} row(s) ({shown}{more})"


def check_matrix(x: object, name: str) -> np.ndarray:
    """A validated float64 copy-free view: 2-D, finite, no zero rows."""
    arr = as_matrix(x, name)
    check_rows(arr, name)
    return arr


def load_npy(path: str | Path, name: str, mmap: bool = False) -> np.ndarray:
    """Load a .npy matrix without pickle; missing files and object arrays become clear errors."""
    path = Path(path)
    if not path.is_file():
        raise MixsearchError(f"{name}: file not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise MixsearchError(
                f"{name}: {path} holds Python objects (ragged rows?); expected a numeric matrix"
            ) from None
        raise MixsearchError(f"{name}: cannot read {path} as .npy ({err})") from None
    except OSError as err:
        raise MixsearchError(f"{name}: cannot read {path} ({err})") from None
    return as_matrix(arr, f"{name} ({path})")
