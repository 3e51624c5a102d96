"""The `--where` filter language of `search`: ``key=value``, ``key>=x`` and the other ranges.

Each clause becomes an entry of the store's filter mapping (an equality, or a range of
``gte``/``gt``/``lte``/``lt`` bounds); values are JSON when they parse, else text. A malformed
clause, or a value SQLite cannot compare, is refused before any work.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mixsearch.errors import MixsearchError

WHERE_FORMS = "key=value, key>=x, key<=x, key>x or key<x"
_WHERE = re.compile(r"^\s*([^<>=!]+?)\s*(>=|<=|=|>|<)\s*(.*?)\s*$", re.DOTALL)
_RANGE_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}


def parse_where(clauses: list[str]) -> dict[str, Any] | None:
    """``key=value``, ``key>=x``, ``key<=x``, ``key>x``, ``key<x`` → the store's filter mapping.

    Values are JSON when they parse as JSON (``3``, ``true``, ``"3"``), else strings. Anything
    else (``year>>2020``, ``year!=2020``, ``year==2020``, a missing key or value) is refused.
    """
    where: dict[str, Any] = {}
    for clause in clauses:
        match = _WHERE.match(clause)
        if match is None or not match.group(3) or match.group(3)[0] in "<>=!":
            raise MixsearchError(f"bad --where {clause!r}: use {WHERE_FORMS}")
        key, op, raw = match.groups()
        value = _parse_value(raw)
        if op == "=":
            where[key] = value
        else:
            bounds = where.setdefault(key, {})
            if not isinstance(bounds, dict):
                raise MixsearchError(
                    f"bad --where {clause!r}: {key} already has an equality filter"
                )
            bounds[_RANGE_OPS[op]] = value
    if where:
        from mixsearch.store.db import filter_sql

        filter_sql(None, where)  # values SQLite cannot compare are refused before any work
    return where or None


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
