"""`search_arrays`: the compiled twins (`_search_arrays.c`) do what the Python twins do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsearch import search_arrays as sa
from mixsearch.search_arrays import UNIT_TOLERANCE, query_rows_python, unit_rows_python
from mixsearch.vectors import NORM_EPS

compiled = sa.compiled
needs_compiled = pytest.mark.skipif(compiled is None, reason="the C extension is not built here")
DIM = 8


def _not_rows() -> list[object]:
    """Queries FAISS must not read as raw memory: each needs a conversion or is refused."""
    good = np.ones((3, DIM), np.float32)
    return [
        good.astype(np.float64),
        good[:, :-1].copy(),  # another dimension
        good[0],  # 1-d
        np.ones((2, 2 * DIM), np.float32)[:, ::2],  # strided
        good.astype(">f4"),  # byte-swapped
        good.view(np.matrix),  # a subclass
        good.tolist(),
        np.ones((1, 3, DIM), np.float32),
        None,
    ]


@pytest.mark.parametrize(
    "twin", [query_rows_python, pytest.param("compiled", marks=needs_compiled)]
)
def test_query_rows_passes_only_arrays_faiss_can_read(twin) -> None:
    query_rows = compiled.query_rows if twin == "compiled" else twin
    for good in (np.ones((3, DIM), np.float32), np.empty((0, DIM), np.float32)):
        assert query_rows(good, DIM) is good
    for bad in _not_rows():
        assert query_rows(bad, DIM) is None, bad


rows = st.integers(0, 5).flatmap(
    lambda n: st.lists(
        st.lists(st.floats(-4, 4, width=32), min_size=DIM, max_size=DIM), min_size=n, max_size=n
    )
)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(rows, st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_unit_rows_compiled_and_python_agree(values, unit, shifted, seed) -> None:
    q = np.array(values, np.float32).reshape(-1, DIM)
    if unit and len(q):  # some rows already at length 1, as a text encoder gives them
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.where(norms > 0, q / np.maximum(norms, 1e-12), q).astype(np.float32)
    shift = np.random.default_rng(seed).normal(size=DIM).astype(np.float32) if shifted else None
    python = unit_rows_python(q, shift, UNIT_TOLERANCE, NORM_EPS)
    c = compiled.unit_rows(q, shift, UNIT_TOLERANCE, NORM_EPS)
    assert c.dtype == np.float32 and c.shape == q.shape
    assert (c is q) == (python is q)
    np.testing.assert_allclose(c, python, rtol=1e-6, atol=1e-7)
    lengths = np.linalg.norm(c.astype(np.float64), axis=1)
    y = q if shift is None else q + shift
    nonzero = np.linalg.norm(y.astype(np.float64), axis=1) > 1e-6
    np.testing.assert_allclose(lengths[nonzero], 1.0, atol=1e-5)


@pytest.mark.parametrize("twin", [unit_rows_python, pytest.param("compiled", marks=needs_compiled)])
def test_unit_rows_leaves_unit_rows_and_zero_rows_alone(twin) -> None:
    unit_rows = compiled.unit_rows if twin == "compiled" else twin
    q = np.eye(DIM, dtype=np.float32)[:3]
    assert unit_rows(q, None, UNIT_TOLERANCE, NORM_EPS) is q  # no copy for the common query
    zero = np.zeros((2, DIM), np.float32)
    out = unit_rows(zero, None, UNIT_TOLERANCE, NORM_EPS)
    assert np.all(out == 0) and not np.any(np.isnan(out))  # zero stays zero, never NaN
    shifted = unit_rows(q, np.full(DIM, 0.5, np.float32), UNIT_TOLERANCE, NORM_EPS)
    assert shifted is not q and np.allclose(np.linalg.norm(shifted, axis=1), 1.0)


@needs_compiled
def test_compiled_unit_rows_refuses_arrays_it_cannot_read() -> None:
    q = np.ones((2, DIM), np.float32)
    for bad in (q.astype(np.float64), q[:, ::2], q[0]):
        with pytest.raises(TypeError, match="float32"):
            compiled.unit_rows(bad, None, UNIT_TOLERANCE, NORM_EPS)
    with pytest.raises(TypeError, match="shift"):
        compiled.unit_rows(q, np.ones(DIM + 1, np.float32), UNIT_TOLERANCE, NORM_EPS)


@pytest.mark.parametrize(
    "twin", [sa.result_arrays_python, pytest.param("compiled", marks=needs_compiled)]
)
def test_result_arrays_are_what_faiss_fills(twin) -> None:
    result_arrays = compiled.result_arrays if twin == "compiled" else twin
    scores, ids = result_arrays(3, 10)
    assert (scores.dtype, ids.dtype, scores.shape, ids.shape) == (
        np.float32,
        np.int64,
        (3, 10),
        (3, 10),
    )
    assert scores.flags.c_contiguous and ids.flags.c_contiguous and scores.flags.writeable
    if twin == "compiled":
        with pytest.raises(ValueError, match="negative"):
            compiled.result_arrays(-1, 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_row_that_is_not_finite_is_never_searched(bad) -> None:
    q = np.eye(DIM, dtype=np.float32)[:3].copy()
    q[1, 2] = bad
    twins = [(query_rows_python, unit_rows_python)]
    if compiled is not None:
        twins.append((compiled.query_rows, compiled.unit_rows))
    for query_rows, unit_rows in twins:
        assert query_rows(q, DIM) is None  # not passed to FAISS as it is
        with pytest.raises(ValueError, match="query row 1 is not finite"):
            unit_rows(q, None, UNIT_TOLERANCE, NORM_EPS)


def test_engine_and_store_refuse_a_query_that_is_not_finite(tmp_path) -> None:
    """FAISS ranks nothing for a NaN query: without the check a search returned no hits and no
    error. One line names the row, at the engine (raw embeddings) and at the store."""
    from mixsearch.engine import Engine
    from mixsearch.errors import BadInputError, StoreInputError
    from mixsearch.rank import rank

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    engine = Engine.create(tmp_path / "s", encoder=None, dim=DIM, index="Flat", alignment=None)
    try:
        engine.add_vectors([f"d{i}" for i in range(50)], vectors, np.zeros(50, np.int8))
        query = vectors[:2].copy()
        assert [h.doc_id for h in engine.search_vectors(query, 1)[1]] == ["d1"]
        query[1, 0] = np.nan
        with pytest.raises(BadInputError, match="query row 1 is not finite"):
            engine.search_vectors(query, 3)
        for search in (engine.store.search_hits, lambda q, k: rank(engine.store, q, k)):
            with pytest.raises(StoreInputError, match="query row 1 is not finite"):
                search(query, 3)
        with pytest.raises(StoreInputError, match="query row 1 is not finite"):
            rank(engine.store, query, 3, modality="text")
    finally:
        engine.close()
