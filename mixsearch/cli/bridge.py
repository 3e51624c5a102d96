"""The `bridge` command: fit a map from a new text encoder into a store's space (model upgrade).

mixsearch bridge STORE --query-encoder NAME --texts FILE --out DIR [--method auto]

The saved bridge lets `search --query-encoder NAME --bridge DIR` query the store with the new
model without re-embedding its documents.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mixsearch.cli.output import add_json_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bridge",
        help="fit a map from a new text encoder into a store's space (model upgrade)",
        description="Embed the texts of FILE (one per line) with both the store's encoder and "
        "--query-encoder and fit an alignment between them, so the store can be searched with "
        "the new model without re-embedding (`search --query-encoder NAME --bridge DIR`).",
    )
    p.add_argument("store", type=Path)
    p.add_argument("--query-encoder", required=True)
    p.add_argument("--texts", type=Path, required=True, help="UTF-8 file, one text per line")
    p.add_argument("--method", default="auto", help="alignment method (auto)")
    p.add_argument("--out", type=Path, required=True, help="folder to save the bridge in")
    add_json_flag(p)
    p.set_defaults(handler=cmd_bridge)


def cmd_bridge(args: argparse.Namespace) -> int:
    from mixsearch.encoders.images import read_text_file
    from mixsearch.engine import Engine

    texts = [line.strip() for line in read_text_file(args.texts).splitlines() if line.strip()]
    with Engine.open(args.store, readonly=True) as engine:
        bridge = engine.fit_bridge(args.query_encoder, texts, method=args.method)
    bridge.save(args.out)
    payload = {
        "out": str(args.out),
        "pairs": len(texts),
        "method": bridge.method,
        "fingerprint": bridge.fingerprint,
    }
    emit(
        payload,
        args.json,
        lambda p: f"bridge ({p['method']}, {p['pairs']} texts) saved to {p['out']}",
    )
    return 0
