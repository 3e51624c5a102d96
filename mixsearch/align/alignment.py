"""`Alignment`: a fitted map between two embedding spaces, as an immutable, saveable value.

Three sides, named as the engine uses them:

* ``"source"`` — the side that is mapped: ``scale · (x − source_mean) @ Q`` with ``Q`` of shape
  [source_dim, target_dim] (the top-left block of the zero-padded orthogonal map when the two
  dimensions differ). Image vectors in mixed search; a new model's queries in a bridge.
* ``"target"`` — document text: only ``x − target_mean``.
* ``"query"`` — query text, in target space: ``x − query_mean`` (the query mean defaults to the
  target mean when no queries were given at fit time).

Uncentred alignments hold zero means, so the same formulas apply. Arrays are float64 inside and
read-only; ``transform`` returns float32. ``save`` writes ``alignment.npz`` (no pickle) and
``alignment.json`` (metadata and fingerprint), each atomically (`mixsearch.vectors.atomic_write`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.align.validate import as_matrix, check_side
from mixsearch.errors import AlignmentError, MixsearchError
from mixsearch.vectors import atomic_write, atomic_write_json, normalize_rows

FORMAT_VERSION = 1
ARRAYS_FILE = "alignment.npz"
META_FILE = "alignment.json"
TRANSFORM_CHUNK_ROWS = 65536  # bounds the float64 temporaries when mapping millions of rows


@dataclass(frozen=True, eq=False)
class Alignment:
    method: str
    source_dim: int
    target_dim: int
    n_pairs: int
    Q: np.ndarray  # [source_dim, target_dim]
    scale: float
    source_mean: np.ndarray  # [source_dim]
    target_mean: np.ndarray  # [target_dim]
    query_mean: np.ndarray  # [target_dim]
    lambda_: float | None = None  # shrinkage chosen by `auto`; inf means plain centering
    centered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, shape in (
            ("Q", (self.source_dim, self.target_dim)),
            ("source_mean", (self.source_dim,)),
            ("target_mean", (self.target_dim,)),
            ("query_mean", (self.target_dim,)),
        ):
            arr = np.array(getattr(self, name), dtype=np.float64)  # private copy
            if arr.shape != shape:
                raise MixsearchError(f"alignment {name} has shape {arr.shape}, expected {shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def identity(cls, dim: int, target_dim: int | None = None) -> Alignment:
        """The map that changes nothing (``none``); zero-pads or truncates when dims differ."""
        target_dim = dim if target_dim is None else target_dim
        return cls(
            method="none",
            source_dim=dim,
            target_dim=target_dim,
            n_pairs=0,
            Q=np.eye(dim, target_dim),
            scale=1.0,
            source_mean=np.zeros(dim),
            target_mean=np.zeros(target_dim),
            query_mean=np.zeros(target_dim),
        )

    # -- use ------------------------------------------------------------------------------

    def transform(self, x: np.ndarray, side: str, *, normalize: bool = True) -> np.ndarray:
        """Map rows of ``x`` from ``side`` into the shared (target) space, float32."""
        check_side(side)
        x = as_matrix(x, f"{side} vectors")
        expected = self.source_dim if side == "source" else self.target_dim
        if x.shape[1] != expected:
            raise MixsearchError(
                f"{side} vectors have dimension {x.shape[1]}, this alignment expects {expected}"
            )
        out = np.empty((x.shape[0], self.target_dim), dtype=np.float32)
        for start in range(0, x.shape[0], TRANSFORM_CHUNK_ROWS):
            rows = np.asarray(x[start : start + TRANSFORM_CHUNK_ROWS], dtype=np.float64)
            out[start : start + len(rows)] = self._map_chunk(rows, side)
        return normalize_rows(out) if normalize else out

    def _map_chunk(self, rows: np.ndarray, side: str) -> np.ndarray:
        if side == "source":
            return self.scale * ((rows - self.source_mean) @ self.Q)
        mean = self.target_mean if side == "target" else self.query_mean
        return rows - mean

    @property
    def fingerprint(self) -> str:
        """16 hex digits of sha256 over the method, scale and arrays: equal maps, equal prints."""
        h = hashlib.sha256()
        h.update(f"{self.method}|{self.source_dim}|{self.target_dim}|{self.scale!r}".encode())
        for arr in (self.Q, self.source_mean, self.target_mean, self.query_mean):
            h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        return h.hexdigest()[:16]

    def orthogonality_error(self) -> float:
        """max |QᵀQ − I| over the smaller side (0 for orthogonal maps, large for `lstsq`)."""
        q = self.Q if self.source_dim >= self.target_dim else self.Q.T
        gram = q.T @ q
        return float(np.abs(gram - np.eye(gram.shape[0])).max())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no arrays)."""
        return {
            "method": self.method,
            "source_dim": self.source_dim,
            "target_dim": self.target_dim,
            "n_pairs": self.n_pairs,
            "scale": self.scale,
            "lambda": lambda_to_json(self.lambda_),
            "centered": self.centered,
            "fingerprint": self.fingerprint,
            "orthogonality_error": self.orthogonality_error(),
            "extra": self.extra,
        }

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the arrays then the metadata (the metadata file is what makes it loadable)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / ARRAYS_FILE, self._write_arrays)
        meta = {"format_version": FORMAT_VERSION, **self.to_dict()}
        atomic_write_json(directory / META_FILE, meta, indent=2, sort_keys=True)
        return directory

    def _write_arrays(self, handle: Any) -> None:
        np.savez(
            handle,
            Q=self.Q,
            source_mean=self.source_mean,
            target_mean=self.target_mean,
            query_mean=self.query_mean,
        )

    @classmethod
    def load(cls, directory: str | Path) -> Alignment:
        directory = Path(directory)
        meta = _read_meta(directory)
        try:
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in ("Q", "source_mean", "target_mean", "query_mean")}
        except (OSError, KeyError, ValueError) as err:
            raise AlignmentError(
                f"{directory / ARRAYS_FILE}: unreadable alignment ({err})"
            ) from None
        try:
            alignment = cls(
                method=meta["method"],
                source_dim=int(meta["source_dim"]),
                target_dim=int(meta["target_dim"]),
                n_pairs=int(meta["n_pairs"]),
                scale=float(meta["scale"]),
                lambda_=_lambda_from_json(meta.get("lambda")),
                centered=bool(meta["centered"]),
                extra=dict(meta.get("extra") or {}),
                **arrays,
            )
        except KeyError as err:
            raise AlignmentError(f"{directory / META_FILE}: missing field {err}") from None
        if alignment.fingerprint != meta.get("fingerprint"):
            raise AlignmentError(
                f"{directory}: arrays do not match the recorded fingerprint "
                f"{meta.get('fingerprint')!r} (files from different fits?)"
            )
        return alignment


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META_FILE
    if not path.is_file():
        raise AlignmentError(f"{directory}: not an alignment directory (no {META_FILE})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise AlignmentError(f"{path}: unreadable alignment metadata ({err})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise AlignmentError(
            f"{path}: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    return meta


def lambda_to_json(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "inf" if math.isinf(value) else float(value)


def _lambda_from_json(value: Any) -> float | None:
    return None if value is None else float(value)
