"""all-MiniLM-L6-v2's BERT forward in numpy, for short query batches on the CPU.

A query is a handful of tokens: the forward itself takes milliseconds, while importing torch and
transformers' BertModel takes seconds — most of a cold ``mixsearch search``. This is the same
network with the same weights (the safetensors file is memory-mapped, not copied: only the pages
a query touches are read), so it gives the same vectors up to float32 rounding
(tests/encoders/test_minilm_numpy.py compares it with sentence-transformers). Bulk encoding keeps
using torch.

BERT, post-LayerNorm: embeddings (word + position + token type) → LayerNorm → 6 × [self-attention
(12 heads) → dense → residual + LayerNorm → dense 1536 → GELU → dense 384 → residual + LayerNorm].
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12
_DTYPES = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a read-only view of one memory map.

    The format: an 8-byte little-endian header length, a JSON header mapping each name to its
    dtype, shape and byte range, then the data."""
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        tensors[name] = data[start:end].view(dtype).reshape(entry["shape"])
    return tensors


class NumpyMiniLM:
    """``forward(ids, mask)`` → mean-pooled token vectors [batch, 384] (not normalised).

    A query's matrix products have ~10 rows, so each costs about as much in reading the weight
    as in arithmetic. Query, key and value are one fused [384, 1152] product. A long-lived
    process (the server) calls `pack()` once: the layer weights are copied (42 MB, ~0.1 s) into
    contiguous [in, out] arrays, which took less CPU per query than the memory-mapped
    [out, in] ones; a one-shot CLI search skips that copy. The embedding tables stay
    memory-mapped: a query reads a few of their rows.
    """

    def __init__(self, weights_path: Path) -> None:
        self.w = load_safetensors(weights_path)
        self.layers = [_LayerWeights(self.w, f"encoder.layer.{i}.") for i in range(LAYERS)]

    def pack(self) -> None:
        self.layers = [
            _LayerWeights(self.w, f"encoder.layer.{i}.", packed=True) for i in range(LAYERS)
        ]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        positions = np.arange(ids.shape[1])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(np.asarray(x), w, "embeddings.LayerNorm")
        # Padding keys get the most negative float added, as transformers does; a batch without
        # padding (one query) adds nothing.
        bias = None
        if not mask.all():
            bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
            bias = bias.astype(np.float32)
        for layer in self.layers:
            x = layer.forward(x, bias)
        weights = mask[..., None].astype(np.float32)
        return (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


class _LayerWeights:
    """One BERT layer's weights as [in, out] matrices: views of the memory map, or contiguous
    copies when ``packed`` (see `NumpyMiniLM`)."""

    def __init__(self, w: dict[str, np.ndarray], p: str, *, packed: bool = False) -> None:
        def matrix(weight: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(weight.T) if packed else weight.T

        qkv = [p + f"attention.self.{part}" for part in ("query", "key", "value")]
        self.qkv = matrix(np.concatenate([w[n + ".weight"] for n in qkv]))
        self.qkv_bias = np.concatenate([w[n + ".bias"] for n in qkv])
        self.dense = {
            name: (matrix(w[p + name + ".weight"]), np.asarray(w[p + name + ".bias"]))
            for name in ("attention.output.dense", "intermediate.dense", "output.dense")
        }
        self.norms = {
            name: (np.asarray(w[p + name + ".weight"]), np.asarray(w[p + name + ".bias"]))
            for name in ("attention.output.LayerNorm", "output.LayerNorm")
        }

    def forward(self, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        batch, length, dim = x.shape
        head = dim // HEADS
        # [b, l, 3·d] → [3, b, heads, l, head]
        qkv = (x @ self.qkv + self.qkv_bias).reshape(batch, length, 3, HEADS, head)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head))
        if bias is not None:
            scores = scores + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
        attended = self._dense(context, "attention.output.dense") + x
        x = self._norm(attended, "attention.output.LayerNorm")
        hidden = _gelu(self._dense(x, "intermediate.dense"))
        return self._norm(self._dense(hidden, "output.dense") + x, "output.LayerNorm")

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        weight, bias = self.dense[name]
        return x @ weight + bias

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _normalise(x, *self.norms[name])


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return _normalise(x, w[name + ".weight"], w[name + ".bias"])


def _normalise(x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normed = (x - mean) / np.sqrt(var + LAYER_NORM_EPS)
    return (normed * scale + shift).astype(np.float32)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), with erf to 1.5e-7 (Abramowitz &
    Stegun 7.1.26; scipy.special would cost a second of import for one function)."""
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)
