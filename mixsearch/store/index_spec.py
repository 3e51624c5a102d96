"""FAISS index specs: choosing one for a corpus, building and training it, and searching it.

Specs are FAISS factory strings (``Flat``, ``HNSW32``, ``IVF1024,Flat``, ``IVF4096,PQ64``) or
``auto``. One option of our own may be added as a comma-separated token: ``efC<N>`` sets an HNSW
graph's efConstruction (``HNSW32,efC200``); without it HNSW graphs are built with
DEFAULT_EF_CONSTRUCTION (FAISS's own default of 40 builds a graph that needs a far larger
efSearch for the same recall: RESULTS.md). Every index uses inner product on L2-normalised float32 vectors (= cosine) and is wrapped
so that documents keep stable int64 ids across removals and rebuilds: IVF indexes store ids
natively (``add_with_ids``); the others are wrapped in ``IndexIDMap2``. IVF must not be wrapped:
``IndexIDMap2.remove_ids`` assumes the inner index renumbers its vectors after a removal (as
``IndexFlat`` does), which IVF does not, so the id map would silently shift.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from mixsearch.errors import IndexSpecError

AUTO = "auto"
FLAT_BELOW = 10_000
DEFAULT_EF_CONSTRUCTION = 128
_EF_CONSTRUCTION = re.compile(r"^efC(\d+)$", re.IGNORECASE)
DEFAULT_MEMORY_BUDGET = 4 * 1024**3
MAX_TRAIN_VECTORS = 200_000
SEARCH_PARAM_KEYS = ("nprobe", "efSearch")


def choose_index_spec(n: int, dim: int, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET) -> str:
    """The index spec for ``n`` vectors of ``dim`` floats within ``memory_budget_bytes``.

    Exact ``Flat`` below 10k vectors (brute force is fast there and needs no tuning); then
    ``IVF<nlist>,Flat`` while the full vectors fit the budget, with nlist the power of two
    nearest 4*sqrt(n) (at least 39 training points per list); beyond that ``IVF<nlist>,PQ<m>x8``
    with m the largest divisor of ``dim`` up to 64 whose codes fit the budget.

    IVF,Flat rather than HNSW32 is a measured choice (RESULTS.md, 100k × 512, text queries,
    recall@10 0.95): unfiltered the two tie (p50 ~0.13-0.17 ms: nprobe 2 vs efSearch 11-16 on a
    graph built with efConstruction 128), but IVF builds 3-7× faster, takes less memory
    (no graph), drops removed documents natively, and a ``modality=image`` filter costs it
    nprobe 6-8 where the graph needs efSearch ~110-160 (2-6× the time); at 1M, IVF4096,Flat
    reached 0.94 at nprobe 1 in 0.27 ms while the efConstruction-40 graph needed efSearch 2048.
    """
    if n < FLAT_BELOW:
        return "Flat"
    nlist = _ivf_nlist(n)
    centroid_bytes = nlist * dim * 4
    ivf_flat_bytes = n * (4 * dim + 8) + centroid_bytes  # vectors + ids in the lists
    if ivf_flat_bytes <= memory_budget_bytes:
        return f"IVF{nlist},Flat"
    id_map_bytes = 16
    fitting = [
        m
        for m in _divisors(dim)
        if m <= 64 and n * (m + 8 + id_map_bytes) + centroid_bytes <= memory_budget_bytes
    ]
    m = max(fitting) if fitting else min(d for d in _divisors(dim) if d >= min(4, dim))
    return f"IVF{nlist},PQ{m}x8"


def _ivf_nlist(n: int) -> int:
    target = 4 * math.sqrt(n)
    nlist = 2 ** round(math.log2(target))
    return max(1, min(nlist, n // 39))


def _divisors(dim: int) -> list[int]:
    return [d for d in range(1, dim + 1) if dim % d == 0]


@dataclass(frozen=True)
class BuiltIndex:
    index: faiss.Index
    spec: str
    note: str | None  # why the resolved spec differs from the requested one, if it does


def resolve_spec(requested: str, n: int, dim: int, memory_budget_bytes: int) -> str:
    if is_auto(requested):
        return choose_index_spec(n, dim, memory_budget_bytes)
    return requested


@dataclass(frozen=True)
class ParsedSpec:
    """A spec split into the FAISS factory string and our options."""

    factory: str
    ef_construction: int | None  # None: the default (HNSW only)


def parse_spec(spec: str) -> ParsedSpec:
    """Split ``efC<N>`` off a spec; the rest is the FAISS factory string."""
    factory, ef_construction = [], None
    for token in spec.split(","):
        match = _EF_CONSTRUCTION.match(token)
        if match is None:
            factory.append(token)
        elif ef_construction is not None or int(match.group(1)) < 1:
            raise IndexSpecError(
                f"invalid index spec {spec!r}: give efC<N> once, with N a positive integer"
            )
        else:
            ef_construction = int(match.group(1))
    return ParsedSpec(",".join(factory), ef_construction)


FACTORY_EXAMPLES = "e.g. Flat, HNSW32, IVF4096,PQ64"
_PROBE_DIM_LIMIT = 16_384  # largest dummy dimension tried when the real one is not known yet
_COMMON_DIMS = (384, 512, 768, 1024, 1536, 3840)


def is_auto(spec: str) -> bool:
    return spec.strip().lower() == AUTO


def validate_spec(spec: str, dim: int | None = None) -> None:
    """Refuse a spec FAISS cannot build, in one readable line, before anything is read or written.

    With ``dim`` the spec must fit that dimension (``PQ64`` needs a multiple of 64). Without it
    only its form is checked — on dummy dimensions that meet the spec's divisibility needs — so a
    typo is caught before the encoder is even loaded.
    """
    if not isinstance(spec, str):
        raise IndexSpecError(f"index spec must be a string, got {spec!r}")
    if is_auto(spec):
        return
    parsed = parse_spec(spec)
    if parsed.ef_construction is not None and not _is_hnsw_factory(parsed.factory):
        raise IndexSpecError(
            f"invalid index spec {spec!r}: efC<N> applies to HNSW indexes only (e.g. HNSW32,efC200)"
        )
    dims = [dim] if dim is not None else _probe_dims(parsed.factory)
    reasons = []
    for d in dims:
        reason = _factory_error(parsed.factory, d)
        if reason is None:
            return
        if reason == _UNPARSABLE:
            raise IndexSpecError(
                f"invalid index spec {spec!r}: not a FAISS factory string ({FACTORY_EXAMPLES}) "
                "or auto"
            )
        reasons.append(reason)
    if dim is not None:
        raise IndexSpecError(f"index spec {spec!r} does not fit dimension {dim}: {reasons[0]}")
    raise IndexSpecError(f"invalid index spec {spec!r}: {reasons[0]}")


_UNPARSABLE = "could not parse"


def _is_hnsw_factory(factory: str) -> bool:
    return factory.split(",")[0].upper().startswith("HNSW")


def _factory_error(spec: str, dim: int) -> str | None:
    """None when FAISS builds ``spec`` for ``dim``, else its reason without the C++ location."""
    try:
        faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        return faiss_reason(err)
    return None


def faiss_reason(err: BaseException) -> str:
    """FAISS's message without its C++ signature and source location:
    ``Error in void faiss::X() at /faiss/X.cpp:64: Error: 'd % M == 0' failed: The dimension...``
    becomes ``The dimension...``; a factory parse failure becomes ``could not parse``."""
    text = " ".join(str(err).split())
    text = re.sub(r"^Error in .*? at \S+:\d+: ", "", text)
    if text.startswith("could not parse index string"):
        return _UNPARSABLE
    check = re.match(r"^Error: '(.*)' failed(?:: (.*))?$", text)
    if check:
        text = check.group(2) or f"FAISS check {check.group(1).lstrip('!')} failed"
    return text or "rejected by FAISS"


def _probe_dims(spec: str) -> list[int]:
    """Dummy dimensions for a form check: first one divisible by every number in the spec (PQ64,
    OPQ16_64 ...) when that stays small, then common embedding sizes."""
    numbers = [int(n) for n in re.findall(r"\d+", spec) if 0 < int(n) <= 1024]
    lcm = math.lcm(*numbers) if numbers else 1
    dims = [lcm * math.ceil(64 / lcm)] if lcm <= _PROBE_DIM_LIMIT else []
    return dims + [d for d in _COMMON_DIMS if d not in dims]


def build_index(spec: str, dim: int, train_vectors: np.ndarray, seed: int = 0) -> BuiltIndex:
    """An empty, trained index with ids for ``spec``; falls back to Flat if training is impossible.

    Training uses at most MAX_TRAIN_VECTORS vectors (a seeded sample) — FAISS's k-means needs
    about 39-256 points per centroid, more only costs time.
    """
    inner = faiss.index_factory(dim, parse_spec(spec).factory, faiss.METRIC_INNER_PRODUCT)
    note = None
    _skip_polysemous_training(inner)
    _set_ef_construction(inner, parse_spec(spec).ef_construction)
    if not inner.is_trained:
        sample = _training_sample(train_vectors, seed)
        try:
            inner.train(sample)
        except RuntimeError as err:
            reason = faiss_reason(err)
            note = f"{spec} could not be trained on {len(sample)} vectors ({reason}); using Flat"
            spec = "Flat"
            inner = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    return BuiltIndex(_with_ids(inner), spec, note)


def _set_ef_construction(index: faiss.Index, value: int | None) -> None:
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efConstruction = value or DEFAULT_EF_CONSTRUCTION


def _with_ids(index: faiss.Index) -> faiss.Index:
    return index if ivf_of(index) is not None else faiss.IndexIDMap2(index)


def ivf_of(index: faiss.Index) -> faiss.IndexIVF | None:
    """The IVF index inside ``index`` (possibly behind a pre-transform such as OPQ), or None."""
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _skip_polysemous_training(index: faiss.Index) -> None:
    """The factory enables polysemous training for PQ codes unless the spec ends in "np": it is
    an annealing step that takes minutes and only serves polysemous (Hamming-filtered) search,
    which this store never uses."""
    inner = faiss.downcast_index(index)
    if hasattr(inner, "do_polysemous_training"):
        inner.do_polysemous_training = False


def _training_sample(vectors: np.ndarray, seed: int) -> np.ndarray:
    if len(vectors) <= MAX_TRAIN_VECTORS:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.random.default_rng(seed).choice(len(vectors), MAX_TRAIN_VECTORS, replace=False)
    return np.ascontiguousarray(vectors[np.sort(rows)], dtype=np.float32)


def needs_training(spec: str, dim: int) -> bool:
    factory = parse_spec(spec).factory
    return not faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT).is_trained


def inner_index(index: faiss.Index) -> faiss.Index:
    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        return faiss.downcast_index(index.index)
    return faiss.downcast_index(index)


def index_ids(index: faiss.Index) -> np.ndarray:
    """Every id stored in the index (the id map, or the ids of all IVF lists)."""
    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = ivf_of(index)
    assert ivf is not None, "indexes are either IVF or wrapped in an id map"
    invlists: Any = ivf.invlists  # the stubs miss release_ids and make it Optional
    parts = [np.empty(0, np.int64)]
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            ids = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ids, size).astype(np.int64))
            invlists.release_ids(list_no, ids)
    return np.concatenate(parts)


def is_hnsw(index: faiss.Index) -> bool:
    return isinstance(inner_index(index), faiss.IndexHNSW)


def is_removable(index: faiss.Index) -> bool:
    """HNSW graphs cannot drop nodes; their removed ids are masked at search time instead."""
    return not is_hnsw(index)


def is_exact(index: faiss.Index) -> bool:
    return isinstance(inner_index(index), faiss.IndexFlat)


def is_lossy(index: faiss.Index) -> bool:
    """Scores are approximations (compressed codes), so candidates need exact re-scoring."""
    inner = inner_index(index)
    ivf = ivf_of(index)
    if ivf is not None:  # behind a pre-transform (OPQ, PCA) scores are approximate too
        # extract_index_ivf returns the IndexIVF base proxy: downcast before the type test
        exact_codes = isinstance(faiss.downcast_index(ivf), faiss.IndexIVFFlat)
        return isinstance(inner, faiss.IndexPreTransform) or not exact_codes
    return isinstance(inner, faiss.IndexPQ | faiss.IndexScalarQuantizer | faiss.IndexPreTransform)


def ivf_nlist(index: faiss.Index) -> int | None:
    ivf = ivf_of(index)
    return int(ivf.nlist) if ivf is not None else None


@dataclass(frozen=True)
class IndexTraits:
    """What search and commits need to know about an index, computed once per loaded index
    (querying SWIG types on every search would be measurable per-query overhead)."""

    exact: bool
    lossy: bool
    hnsw: bool
    nlist: int | None

    @property
    def removable(self) -> bool:
        return not self.hnsw

    @classmethod
    def of(cls, index: faiss.Index | None) -> IndexTraits:
        if index is None:
            return cls(exact=True, lossy=False, hnsw=False, nlist=None)
        return cls(is_exact(index), is_lossy(index), is_hnsw(index), ivf_nlist(index))


def default_search_params(traits: IndexTraits) -> dict[str, int]:
    """Used until `tune` stores better ones: moderate recall at moderate cost."""
    if traits.nlist is not None:
        return {"nprobe": min(traits.nlist, max(8, traits.nlist // 64))}
    if traits.hnsw:
        return {"efSearch": 64}
    return {}


def check_search_params(params: dict) -> dict[str, int]:
    unknown = sorted(set(params) - set(SEARCH_PARAM_KEYS))
    if unknown:
        raise IndexSpecError(
            f"unknown search parameter(s) {', '.join(unknown)}; use {', '.join(SEARCH_PARAM_KEYS)}"
        )
    checked = {}
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise IndexSpecError(
                f"search parameter {key} must be a positive integer, got {value!r}"
            )
        checked[key] = int(value)
    return checked


def faiss_search_parameters(
    traits: IndexTraits, params: dict[str, int], k: int, selector: faiss.IDSelector | None
) -> faiss.SearchParameters:
    """FAISS per-call parameters; keys that do not apply to this index kind are ignored."""
    sp: Any  # the faiss stubs lack SearchParametersHNSW
    if traits.nlist is not None:
        sp = faiss.SearchParametersIVF()
        sp.nprobe = min(traits.nlist, params.get("nprobe", 1))
    elif traits.hnsw:
        sp = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        sp.efSearch = max(k, params.get("efSearch", 16))  # HNSW returns at most efSearch hits
    else:
        sp = faiss.SearchParameters()
    if selector is not None:
        sp.sel = selector
    return sp
