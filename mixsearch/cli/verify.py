"""`mixsearch verify STORE [--repair] [--json]`: exit 0 when the store is sound, 1 with one line
per problem otherwise; `--repair` says what it did, then checks again."""

from __future__ import annotations

import argparse
from typing import Any

from mixsearch.cli.output import add_json_flag, emit


def register(subparsers: Any) -> None:
    from pathlib import Path

    p = subparsers.add_parser(
        "verify",
        help="check a store (and repair it with --repair)",
        description="Check a store's manifest, document table, index file and alignment, and "
        "that they agree (ids, counts, sampled vectors, fingerprints). Exit 0 when sound, 1 with "
        "one line per problem. --repair rebuilds a damaged index from the document table, "
        "rewrites the manifest, or clears an interrupted creation, then checks again; it never "
        "drops a committed document.",
    )
    p.add_argument("store", type=Path)
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    add_json_flag(p)
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from mixsearch.verify import verify

    report = verify(args.store, repair=args.repair)
    emit(report.to_dict(), args.json, _render)
    return 0 if report.ok else 1


def _render(report: dict[str, Any]) -> str:
    path = report["path"]
    lines = [f"{path}: repaired: {done}" for done in report["repaired"]]
    lines += [f"{path}: {problem}" for problem in report["problems"]]
    if report["ok"]:
        lines.append(f"{path}: sound ({report['documents']} documents)")
    return "\n".join(lines)
