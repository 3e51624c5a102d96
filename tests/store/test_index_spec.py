"""Index specs are checked up front, with FAISS's reason in one readable line."""

from __future__ import annotations

import faiss
import pytest

from mixsearch.errors import MixsearchError
from mixsearch.store.index_spec import faiss_reason, validate_spec


@pytest.mark.parametrize(
    "spec", ["auto", "AUTO", "Flat", "HNSW32", "IVF4096,PQ64", "OPQ16_64,IVF256,PQ16", "PQ7"]
)
def test_valid_forms_pass_without_a_dimension(spec: str) -> None:
    validate_spec(spec)  # PQ7 is a valid form; only a real dimension can refuse it


@pytest.mark.parametrize("spec", ["NOTASPEC", "HNSWx", "Flat ", ""])
def test_unparsable_spec_is_one_clean_line(spec: str) -> None:
    with pytest.raises(MixsearchError) as err:
        validate_spec(spec)
    assert str(err.value) == (
        f"invalid index spec {spec!r}: not a FAISS factory string "
        "(e.g. Flat, HNSW32, IVF4096,PQ64) or auto"
    )


def test_spec_that_does_not_fit_the_dimension() -> None:
    validate_spec("IVF4096,PQ64", 384)
    with pytest.raises(MixsearchError) as err:
        validate_spec("IVF4096,PQ64", 100)
    message = str(err.value)
    assert message.startswith("index spec 'IVF4096,PQ64' does not fit dimension 100: ")
    assert "multiple of the number of subquantizers" in message
    assert "faiss::" not in message and ".cpp" not in message


def test_faiss_reason_strips_the_cpp_signature() -> None:
    with pytest.raises(RuntimeError) as err:
        faiss.index_factory(384, "PQ7", faiss.METRIC_INNER_PRODUCT)
    assert "faiss::" in str(err.value)  # what users used to see
    assert faiss_reason(err.value) == (
        "The dimension of the vector (d) should be a multiple of the number of subquantizers (M)"
    )
