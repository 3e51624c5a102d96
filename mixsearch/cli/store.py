"""Store commands: index, search, info, remove, compact, tune, bridge.

mixsearch info STORE [--json]
mixsearch remove STORE ID [ID ...]
mixsearch compact STORE [--index SPEC]
mixsearch tune STORE --target-recall 0.95 [--queries FILE]
mixsearch store migrate STORE

`register` adds every store command, in this order: `index` (`mixsearch.cli.index`), `search`
(`mixsearch.cli.search`), the maintenance commands above (here), and `bridge`
(`mixsearch.cli.bridge`). Every command takes --json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mixsearch.cli import bridge, index, search

# IGNORED_SHOWN, _render_index and parse_where lived here before `index` and `search` got modules
# of their own; they are still importable from here.
from mixsearch.cli.index import IGNORED_SHOWN  # noqa: F401
from mixsearch.cli.index import render_index as _render_index  # noqa: F401
from mixsearch.cli.output import add_json_flag, emit
from mixsearch.cli.where import parse_where  # noqa: F401


def register(subparsers: Any) -> None:
    index.register(subparsers)
    search.register(subparsers)
    p = subparsers.add_parser("info", help="show a store's manifest and counts")
    p.add_argument("store", type=Path)
    add_json_flag(p)
    p.set_defaults(handler=cmd_info)
    p = subparsers.add_parser("remove", help="remove documents by id")
    p.add_argument("store", type=Path)
    p.add_argument("ids", nargs="+", metavar="ID")
    add_json_flag(p)
    p.set_defaults(handler=cmd_remove)
    p = subparsers.add_parser("compact", help="rebuild the index without removed documents")
    p.add_argument("store", type=Path)
    p.add_argument("--index", default=None, help="switch to this FAISS index spec (or auto)")
    add_json_flag(p)
    p.set_defaults(handler=cmd_compact)
    p = subparsers.add_parser("tune", help="pick nprobe/efSearch for a target recall")
    p.add_argument("store", type=Path)
    p.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        help="recall@k to reach (0.95): the smallest value whose 95%% lower confidence bound "
        "on recall reaches the aim is kept; the aim is the target with --queries, half-way "
        "to 1 without (held-out queries are easier)",
    )
    p.add_argument("-k", type=int, default=10, help="k of recall@k (10)")
    p.add_argument(
        "--queries",
        type=Path,
        default=None,
        help="sample queries, one per line (default: held-out queries made from the corpus)",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_tune)
    p = subparsers.add_parser("store", help="store maintenance: migrate an older store format")
    actions = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "migrate",
        help="convert a store of an older format in place (crash-safe, under the write lock)",
    )
    p.add_argument("store", type=Path)
    add_json_flag(p)
    p.set_defaults(handler=cmd_migrate)
    bridge.register(subparsers)


def cmd_info(args: argparse.Namespace) -> int:
    from mixsearch.engine import Engine

    with Engine.open(args.store, readonly=True) as engine:
        info = engine.info()
    emit(info, args.json, _render_info)
    return 0


def _render_info(info: dict[str, Any]) -> str:
    from mixsearch.settings import StoreSettings

    extra = info.get("extra", {})
    counts = info.get("counts", {})
    by_modality = ", ".join(f"{n} {m}" for m, n in counts.get("by_modality", {}).items())
    index = str(info.get("index_spec"))
    resolved = info.get("index_spec_resolved")
    if resolved and resolved != index:
        index += f" (now {resolved})"
    if info.get("index_note"):
        index += f"; {info['index_note']}"
    params = info.get("search_params") or {}
    search = ", ".join(f"{k}={v}" for k, v in params.items()) or "none needed"
    if params:
        search += " (tuned)" if info.get("search_params_tuned") else " (defaults)"
    settings = StoreSettings.from_manifest(info)
    encoder = settings.encoder_label
    if settings.encoder_fingerprint:
        encoder += f", fingerprint {settings.encoder_fingerprint}"
    alignment = settings.alignment_label
    if settings.alignment_fingerprint:
        alignment += f", fingerprint {settings.alignment_fingerprint}"
    rows = [
        ("store", info.get("path")),
        ("documents", f"{info.get('documents', 0)}" + (f" ({by_modality})" if by_modality else "")),
        ("encoder", encoder),
        ("alignment", alignment),
        ("alpha", extra.get("alpha")),
        ("dimension", f"{info.get('dim')} ({info.get('metric', 'inner_product')})"),
        ("index", index),
        ("search params", search),
        ("removed, not yet compacted", counts.get("masked_dead", 0)),
        ("generation", info.get("generation")),
        ("created", info.get("created_at")),
        ("updated", info.get("updated_at")),
    ]
    return _fields([(k, v) for k, v in rows if v is not None])


def _fields(rows: list[tuple[str, Any]]) -> str:
    """``key: value`` lines, values aligned."""
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join(f"{k + ':':<{width}}{v}" for k, v in rows)


def cmd_remove(args: argparse.Namespace) -> int:
    from mixsearch.engine import Engine

    with Engine.open(args.store) as engine:
        removed, missing = engine.remove(args.ids)
    payload = {"removed": removed, "missing": missing}
    emit(
        payload,
        args.json,
        lambda p: (
            f"removed {p['removed']} document(s)"
            + (f"; not in the store: {', '.join(p['missing'])}" if p["missing"] else "")
        ),
    )
    return 1 if missing else 0


def cmd_compact(args: argparse.Namespace) -> int:
    from mixsearch.engine import Engine

    with Engine.open(args.store) as engine:
        engine.compact(args.index)
        payload = {
            "store": str(args.store),
            "documents": len(engine.store),
            "index_spec": engine.store.manifest.get("index_spec"),
            "index_spec_resolved": engine.store.manifest.get("index_spec_resolved"),
        }
    emit(
        payload,
        args.json,
        lambda p: (
            f"compacted {p['store']}: {p['documents']} documents, index {p['index_spec_resolved']}"
        ),
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from mixsearch.store.migrate import migrate

    result = migrate(args.store)
    emit(
        result,
        args.json,
        lambda r: (
            f"migrated {r['store']} to format {r['format_version']}: {r['documents']} documents, "
            f"vectors in {r['vector_file']}"
            if r["migrated"]
            else f"{r['store']} is already format {r['format_version']}: nothing to do"
        ),
    )
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from mixsearch.engine import Engine

    queries = None
    if args.queries is not None:
        from mixsearch.encoders.images import read_text_file

        queries = [q.strip() for q in read_text_file(args.queries).splitlines() if q.strip()]
    with Engine.open(args.store) as engine:
        result = engine.tune(target_recall=args.target_recall, k=args.k, queries=queries)
    emit(result, args.json, lambda r: _render_tune(r, args.k))
    return 0


def _render_tune(result: dict[str, Any], k: int) -> str:
    params = result.get("params") or {}
    if not params:
        return _fields([("search params", "none needed (exact index or empty store)")])
    recall = f"{result['recall']:.4f}"
    if result.get("aim") is not None:
        recall += (
            f" (lower bound {result['bound']:.4f} at {result['confidence']:.0%} confidence; "
            f"aim {result['aim']:.4f})"
        )
    recall += "" if result.get("reached", True) else " — not reached; the largest value is kept"
    rows: list[tuple[str, Any]] = [
        ("search params", ", ".join(f"{key}={v}" for key, v in params.items()) + " (stored)"),
        (f"recall@{k}", recall),
        ("queries", result.get("queries")),
    ]
    if result.get("qps") is not None:
        rows.append(("queries/s", f"{result['qps']:.0f}"))
    if result.get("curve"):
        rows.append(("curve", ", ".join(f"{v}: {r:.3f}" for v, r, _ in result["curve"])))
    return _fields([(key, v) for key, v in rows if v is not None])
