"""`mixsearch embed`: a corpus → resumable Parquet embedding shards; and `index` from shards.

mixsearch embed SOURCE --out SHARDS/ [--encoder NAME | --config FILE.toml]
                       [--ray auto|local|ADDRESS] [--workers N] [--shard-size N] [--json]
mixsearch index SHARDS/ --into STORE                  # commit shards (found by their manifest)
mixsearch index SOURCE --into STORE --ray local       # both steps; shards kept in --shards DIR

Without --ray everything runs in this process and Ray is never imported.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from mixsearch.cli.output import add_json_flag, emit

RAY_HELP = (
    "encode on Ray: local (start Ray on this machine), auto (join this machine's cluster) or a "
    "cluster address (ray://head:10001, head:6379); default: in this process, without Ray"
)


def register(subparsers: Any) -> None:
    from mixsearch.cli.index import add_encoder_args

    p = subparsers.add_parser(
        "embed",
        help="encode a corpus into Parquet embedding shards (resumable; optionally on Ray)",
        description="Encode SOURCE (a folder, .jsonl file or MixBench subset folder) into "
        "Parquet shards under --out, with a manifest and the per-item errors beside them. A "
        "rerun skips the shards already written; another source or encoder is refused. "
        "`mixsearch index SHARDS --into STORE` commits them to a store.",
    )
    p.add_argument("source", type=Path)
    p.add_argument("--out", type=Path, required=True, metavar="SHARDS")
    add_encoder_args(p)
    add_ray_args(p)
    p.add_argument(
        "--shard-size",
        type=int,
        default=None,
        help="documents per shard (2048; a rerun keeps the folder's)",
    )
    p.add_argument("--no-cache", action="store_true", help="bypass the embedding cache")
    p.add_argument("--no-progress", action="store_true")
    add_json_flag(p)
    p.set_defaults(handler=cmd_embed)


def add_ray_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", default=None, metavar="auto|local|ADDRESS", help=RAY_HELP)
    p.add_argument(
        "--workers", type=int, default=None, help="Ray encoder actors (one per CPU, or per GPU)"
    )


def cmd_embed(args: argparse.Namespace) -> int:
    from mixsearch.shards import embed

    report = embed(
        args.source,
        args.out,
        encoder=_encoder_setting(args),
        ray=args.ray,
        workers=args.workers,
        shard_size=args.shard_size,
        cache=not args.no_cache,
        progress=not args.no_progress,
        device=args.device,
    )
    emit(report.to_dict(), args.json, _render_embed)
    return 1 if report.errors else 0


def _render_embed(p: dict[str, Any]) -> str:
    lines = [
        f"embedded {p['source']} into {p['out']} ({p['runner']}): {p['shards']} shard(s), "
        f"{len(p['encoded'])} written now, {len(p['skipped'])} already done; "
        f"{p['embedded']} of {p['documents']} documents encoded now",
        "time: " + ", ".join(f"{k} {v:.2f}s" for k, v in p["timings"].items()),
    ]
    if p["errors"]:
        lines.append(f"{len(p['errors'])} item(s) not encoded:")
        lines += [f"  {e['item']}: {e['reason']}" for e in p["errors"]]
    return "\n".join(lines)


def _encoder_setting(args: argparse.Namespace) -> Any:
    if args.config is not None:
        from mixsearch.encoders import load_encoder_config

        return load_encoder_config(args.config)
    return args.encoder or "offline-default"


# ---------------------------------------------------------------------- index via shards
def uses_shards(args: argparse.Namespace) -> bool:
    """`index` goes through shards when SOURCE is a shards folder or --ray is given."""
    from mixsearch.shards import is_shards_folder

    return args.ray is not None or is_shards_folder(args.source)


def cmd_index_shards(args: argparse.Namespace) -> int:
    """`index SHARDS --into STORE`, or `index SOURCE --into STORE --ray ...` (embed, then
    commit). Settings are checked against an existing STORE before anything is encoded."""
    from mixsearch.cli.index import render_index
    from mixsearch.cli.index_settings import check_new_settings, index_settings, open_for_adding
    from mixsearch.shards import is_shards_folder, read_manifest

    settings, given = index_settings(args)
    engine = None
    try:
        if (args.into / "manifest.json").exists():
            engine = open_for_adding(args, settings, given)
        else:
            check_new_settings(settings)
        shards = args.source
        made_here = not is_shards_folder(shards)
        if made_here:
            shards = args.shards or _default_shards_folder(args.into)
            _embed_for_index(args, shards, settings, given, engine)
        if engine is None:
            engine = _create_engine(args, settings, given, read_manifest(shards))
        report = engine.add_shards(shards, progress=not args.no_progress)
        payload = report.to_dict() | {
            "store": str(args.into),
            "documents": len(engine.store),
            "ignored": read_manifest(shards)["source"]["ignored"],
            "shards": str(shards),
        }
    finally:
        if engine is not None:
            engine.close()
    if made_here and args.shards is None:
        shutil.rmtree(shards, ignore_errors=True)  # committed: the temporary shards are spent
    emit(payload, args.json, render_index)
    return 1 if report.errors else 0


def _default_shards_folder(store: Path) -> Path:
    """Beside the store, named after it: a rerun after a crash resumes the same shards."""
    return store.parent / f".{store.name}.shards"


def _embed_for_index(
    args: argparse.Namespace, shards: Path, settings: dict[str, Any], given: dict[str, str], engine
) -> None:
    from mixsearch.shards import embed

    encoder = settings["encoder"]
    if engine is not None and "encoder" not in given:
        encoder = engine.store.manifest.get("extra", {}).get("encoder_spec") or encoder
    embed(
        args.source,
        shards,
        encoder=encoder,
        ray=args.ray,
        workers=args.workers,
        progress=not args.no_progress,
        device=args.device,
    )


def _create_engine(
    args: argparse.Namespace, settings: dict[str, Any], given: dict[str, str], manifest: dict
) -> Any:
    from mixsearch.engine import Engine

    encoder = settings["encoder"] if "encoder" in given else manifest["encoder"]["spec"]
    return Engine.create(
        args.into,
        encoder,
        index=settings["index"],
        alignment=settings["align"],
        alpha=settings["alpha"],
        device=args.device,
    )
