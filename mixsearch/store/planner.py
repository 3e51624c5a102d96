"""The filtered-search planner: exact scoring of a few documents, a widened ANN search, or the
filter's own partition.

A filter that keeps ``count`` of the index's ``total`` vectors (selectivity s = count/total) is
searched one of three ways, whichever the cost model below says is cheaper:

* **exact** — brute force over the allowed documents' vectors (gathered once per filter and
  generation, see `filters.ResolvedFilter`): ``count`` inner products, one BLAS call, recall 1;
* **ANN with the filter's selector**, its breadth widened with the selectivity so recall holds.
  Measured at 100k × 512 (synthetic CLIP-like corpus, text queries; RESULTS.md): a modality filter
  is *correlated* with the geometry (image documents sit away from text queries), so an HNSW
  graph built with efConstruction 200 that reaches recall 0.99 unfiltered at efSearch 16 needs
  efSearch ~128 for `modality=image` (s = 0.4), and IVF1024,Flat tuned to nprobe 2 (0.954) needs
  nprobe 6 (0.99). Hence efSearch' = HNSW_WIDEN·max(efSearch, k)/s and nprobe' = IVF_WIDEN·nprobe/s;
* **partition** (graph stores) — an IVF index over the filter's documents alone, with its own
  tuned nprobe (`filter_partitions.FilterPartition`), once one has been built for the filter.

Cost model, in units of one streamed inner product (what exact scoring does per document):
HNSW costs HNSW_COST_PER_EF per unit of efSearch' (measured at 100k × 512, one thread: efSearch
160 with a filter took ~1/10 of exact scoring of 40k vectors, i.e. ~25 units per efSearch — the
not-yet-visited neighbours scored at each expanded node, at random addresses); IVF scans nprobe'
lists of total/nlist entries, testing the selector on each and scoring the allowed ones, after
scoring the nlist centroids; a Flat index scans every vector; a partition scores its nlist
centroids and its nprobe lists of count/nlist documents, and — with 8-bit codes — re-scores
its candidates (4k) from the stored vectors at RESCORE_COST each (a row gathered from the
vector file). Exact scoring is also capped by the memory its gathered vectors take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mixsearch.store.filter_partitions import FilterPartition
from mixsearch.store.index_spec import IndexTraits

HNSW_WIDEN = 4.0
IVF_WIDEN = 1.5
MAX_EF_SEARCH = 4096
HNSW_COST_PER_EF = 25.0
SELECTOR_TEST_COST = 0.05  # a bitmap test vs an inner product
EXACT_MAX_BYTES = 64 * 1024**2  # gathered vectors of one filter scored exactly
RESCORE_COST = 4.0  # a row gathered at random from the vector file, then scored


@dataclass(frozen=True)
class Plan:
    """How to run one filtered search: ``method`` "exact", "ann" with ``params``, or
    "partition" (``partition``, searched with its own nprobe)."""

    method: str
    params: dict[str, int]
    cost_exact: float
    cost_ann: float
    cost_partition: float | None = None
    partition: FilterPartition | None = field(default=None, compare=False, repr=False)

    @property
    def exact(self) -> bool:
        return self.method == "exact"

    def to_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "method": self.method,
            "params": self.params,
            "cost_exact": round(self.cost_exact),
            "cost_ann": round(self.cost_ann),
        }
        if self.partition is not None and self.cost_partition is not None:
            found["cost_partition"] = round(self.cost_partition)
            found["partition"] = self.partition.describe()
        return found


def plan_filtered(
    traits: IndexTraits,
    total: int,
    count: int,
    dim: int,
    k: int,
    params: dict[str, int],
    partition: FilterPartition | None = None,
) -> Plan:
    """The plan for a filter allowing ``count`` of ``total`` vectors, given the unfiltered
    search ``params`` (tuned or default), ``k`` candidates wanted and the filter's partition,
    if one is built."""
    selectivity = count / max(total, 1)
    widened = widen_params(traits, params, k, selectivity)
    cost_ann = ann_cost(traits, total, count, widened)
    cost_exact = float(count) if count * dim * 4 <= EXACT_MAX_BYTES else math.inf
    cost_partition = None if partition is None else partition_cost(partition, k)
    costs = {"exact": cost_exact, "ann": cost_ann, "partition": cost_partition or math.inf}
    method = min(costs, key=lambda m: costs[m])  # ties: exact first (recall 1)
    return Plan(method, widened, float(count), cost_ann, cost_partition, partition)


def partition_cost(partition: FilterPartition, k: int) -> float:
    """Estimated cost of searching the filter's partition, in streamed inner products."""
    scanned = partition.nprobe * partition.count / max(partition.nlist, 1)
    rescored = partition.candidates(k) * RESCORE_COST if partition.lossy else 0.0
    return partition.nlist + scanned + rescored


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
