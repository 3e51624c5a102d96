"""The filtered-search planner: exact scoring of a few documents, or a widened ANN search.

A filter that keeps ``count`` of the index's ``total`` vectors (selectivity s = count/total) is
searched one of two ways, whichever the cost model below says is cheaper:

* **exact** — brute force over the allowed documents' vectors (gathered once per filter and
  generation, see `filters.ResolvedFilter`): ``count`` inner products, one BLAS call, recall 1;
* **ANN with the filter's selector**, its breadth widened with the selectivity so recall holds.
  Measured at 100k × 512 (synthetic CLIP-like corpus, text queries; RESULTS.md): a modality filter
  is *correlated* with the geometry (image documents sit away from text queries), so an HNSW
  graph built with efConstruction 200 that reaches recall 0.99 unfiltered at efSearch 16 needs
  efSearch ~128 for `modality=image` (s = 0.4), and IVF1024,Flat tuned to nprobe 2 (0.954) needs
  nprobe 6 (0.99). Hence efSearch' = HNSW_WIDEN·max(efSearch, k)/s and nprobe' = IVF_WIDEN·nprobe/s.

Cost model, in units of one streamed inner product (what exact scoring does per document):
HNSW costs HNSW_COST_PER_EF per unit of efSearch' (measured at 100k × 512, one thread: efSearch
160 with a filter took ~1/10 of exact scoring of 40k vectors, i.e. ~25 units per efSearch — the
not-yet-visited neighbours scored at each expanded node, at random addresses); IVF scans nprobe'
lists of total/nlist entries, testing the selector on each and scoring the allowed ones, after
scoring the nlist centroids; a Flat index scans every vector. Exact scoring is also capped by the
memory its gathered vectors take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixsearch.store.index_spec import IndexTraits

HNSW_WIDEN = 4.0
IVF_WIDEN = 1.5
MAX_EF_SEARCH = 4096
HNSW_COST_PER_EF = 25.0
SELECTOR_TEST_COST = 0.05  # a bitmap test vs an inner product
EXACT_MAX_BYTES = 64 * 1024**2  # gathered vectors of one filter scored exactly


@dataclass(frozen=True)
class Plan:
    """How to run one filtered search: ``exact``, or ANN with ``params``."""

    exact: bool
    params: dict[str, int]
    cost_exact: float
    cost_ann: float

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "exact" if self.exact else "ann",
            "params": self.params,
            "cost_exact": round(self.cost_exact),
            "cost_ann": round(self.cost_ann),
        }


def plan_filtered(
    traits: IndexTraits, total: int, count: int, dim: int, k: int, params: dict[str, int]
) -> Plan:
    """The plan for a filter allowing ``count`` of ``total`` vectors, given the unfiltered
    search ``params`` (tuned or default) and ``k`` candidates wanted."""
    selectivity = count / max(total, 1)
    widened = widen_params(traits, params, k, selectivity)
    cost_ann = ann_cost(traits, total, count, widened)
    cost_exact = float(count)
    fits = count * dim * 4 <= EXACT_MAX_BYTES
    return Plan(fits and cost_exact <= cost_ann, widened, cost_exact, cost_ann)


def widen_params(
    traits: IndexTraits, params: dict[str, int], k: int, selectivity: float
) -> dict[str, int]:
    """Unfiltered search parameters widened for a filter of the given selectivity."""
    s = max(selectivity, 1e-9)
    if traits.nlist is not None:
        nprobe = params.get("nprobe", 1)
        return {"nprobe": min(traits.nlist, max(nprobe, math.ceil(IVF_WIDEN * nprobe / s)))}
    if traits.hnsw:
        ef = max(params.get("efSearch", 16), k)
        return {"efSearch": min(MAX_EF_SEARCH, max(ef, math.ceil(HNSW_WIDEN * ef / s)))}
    return dict(params)


def ann_cost(traits: IndexTraits, total: int, count: int, params: dict[str, int]) -> float:
    """Estimated cost of the filtered ANN search, in streamed inner products."""
    if traits.nlist is not None:
        nlist = traits.nlist
        scanned = min(1.0, params["nprobe"] / nlist) * total
        return nlist + scanned * SELECTOR_TEST_COST + scanned * count / max(total, 1)
    if traits.hnsw:
        return params["efSearch"] * HNSW_COST_PER_EF
    return total * SELECTOR_TEST_COST + count  # Flat: a full scan, scoring the allowed ones
