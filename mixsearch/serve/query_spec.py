"""One search request as a validated `QuerySpec`, and the rules its fields follow.

A query is text (or weighted terms), an uploaded image, or "more like" a document, with k, an
offset for paging, modalities and a metadata filter. The parsers here turn query-string, form and
JSON values into those fields and refuse anything outside the server's limits
(`mixsearch.serve.limits`) with an `ApiError` naming the field and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mixsearch.documents import Modality
from mixsearch.serve import limits
from mixsearch.serve.errors import ApiError


@dataclass
class QuerySpec:
    """One search request, validated."""

    texts: list[tuple[str, float]] = field(default_factory=list)
    image: bytes | None = None
    image_name: str | None = None
    like: str | None = None
    k: int = 10
    offset: int = 0
    modality: list[str] | None = None
    where: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "text": [[t, w] for t, w in self.texts] or None,
            "image": self.image_name if self.image is not None else None,
            "like": self.like,
            "modality": self.modality,
            "where": self.where,
        }


def spec_from_json(query: Any, index: int) -> QuerySpec:
    where = f"queries[{index}]"
    if not isinstance(query, dict):
        raise ApiError(400, f"{where}: expected an object")
    unknown = set(query) - {"text", "like", "k", "offset", "modality", "where"}
    if unknown:
        raise ApiError(400, f"{where}: unknown keys {sorted(unknown)}")
    modality = query.get("modality")
    if isinstance(modality, list):
        modality = ",".join(str(m) for m in modality)
    where_value = query.get("where")
    if where_value is not None and not isinstance(where_value, dict):
        raise ApiError(400, f"{where}.where: expected an object")
    return QuerySpec(
        texts=_terms(query.get("text"), where),
        like=_str_field(query.get("like"), f"{where}.like"),
        k=int_field(query.get("k"), f"{where}.k", 10),
        offset=int_field(query.get("offset"), f"{where}.offset", 0),
        modality=parse_modality(modality),
        where=_checked_where(where_value) if where_value else None,
    )


def _terms(value: Any, where: str) -> list[tuple[str, float]]:
    """ "a dog" or [["a dog", 1.0], ["grass", -0.5]] (a bare string in the list weighs 1)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, 1.0)]
    if not isinstance(value, list):
        raise ApiError(400, f'{where}.text: a string or a list of ["text", weight] pairs')
    terms = []
    for item in value:
        if isinstance(item, str):
            terms.append((item, 1.0))
        elif (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int | float)
            and not isinstance(item[1], bool)
        ):
            terms.append((item[0], float(item[1])))
        else:
            raise ApiError(400, f'{where}.text: each term is "text" or ["text", weight]')
    return terms


def check_spec(spec: QuerySpec) -> None:
    kinds = sum([bool(spec.texts) or spec.image is not None, spec.like is not None])
    if kinds == 0:
        raise ApiError(400, "give a query: q / text, an image, or like=DOCUMENT_ID")
    if kinds > 1:
        raise ApiError(400, "like=DOCUMENT_ID cannot be combined with text or an image")
    if len(spec.texts) > limits.MAX_TERMS:
        raise ApiError(400, f"at most {limits.MAX_TERMS} weighted terms per query")
    for text, weight in spec.texts:
        if not text.strip():
            raise ApiError(400, "empty query text")
        if len(text) > limits.MAX_QUERY_CHARS:
            raise ApiError(400, f"query text too long: at most {limits.MAX_QUERY_CHARS} characters")
        if not -10.0 <= weight <= 10.0:
            raise ApiError(400, f"term weight {weight} outside [-10, 10]")
    if not 1 <= spec.k <= limits.MAX_K:
        raise ApiError(400, f"k must lie in 1..{limits.MAX_K}, got {spec.k}")
    if spec.offset < 0 or spec.offset + spec.k > limits.MAX_DEPTH:
        raise ApiError(
            400, f"offset must be >= 0 with offset + k <= {limits.MAX_DEPTH}, got {spec.offset}"
        )


def parse_modality(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    out = []
    for part in value.split(","):
        name = "+".join(part.strip().split())  # "image+text" arrives as "image text" in a URL
        try:
            out.append(Modality.parse(name).label)
        except ValueError:
            raise ApiError(
                400, f"unknown modality {part.strip()!r}: use text, image or image+text"
            ) from None
    return out


def parse_where_json(value: str | None) -> dict[str, Any] | None:
    if value is None or not value.strip():
        return None
    if len(value) > limits.MAX_WHERE_CHARS:
        raise ApiError(400, f"where too long: at most {limits.MAX_WHERE_CHARS} characters")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise ApiError(
            400, 'where must be a JSON object, e.g. {"year": 2020} or {"year": {"gte": 2020}}'
        ) from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "where must be a JSON object")
    return _checked_where(parsed)


def _checked_where(where: dict[str, Any]) -> dict[str, Any]:
    for key, condition in where.items():
        if isinstance(condition, dict):
            bad = set(condition) - {"gte", "gt", "lte", "lt"}
            if bad or not condition:
                raise ApiError(400, f"where.{key}: ranges use gte, gt, lte, lt")
            values = list(condition.values())
        else:
            values = [condition]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise ApiError(400, f"where.{key}: values must be strings, numbers or booleans")
    return where


def int_field(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ApiError(400, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be an integer, got {str(value)[:40]!r}") from None


def _str_field(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
