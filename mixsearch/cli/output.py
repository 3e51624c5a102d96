"""Shared output helpers: `--json` for scripts, plain text tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from mixsearch.vectors import json_default


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def emit(payload: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """Print ``payload`` as JSON (one indented document, keys in the payload's order) or through
    ``render``."""
    if as_json:
        json.dump(payload, sys.stdout, indent=2, default=json_default)
        sys.stdout.write("\n")
    else:
        print(render(payload))


def table(rows: list[list[Any]], header: list[str], fmt: Callable[[Any], str] | None = None) -> str:
    """A plain aligned text table."""
    fmt = fmt or _fmt
    cells = [[str(c) for c in header]] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
