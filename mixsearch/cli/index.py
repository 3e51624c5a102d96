"""The `index` command: read a corpus and add it to a new or existing store.

mixsearch index SOURCE --into STORE [--encoder NAME | --config PRESET|FILE] [--index SPEC]
                                    [--align DIR|auto|none] [--alpha 0.5]

`index` into an existing STORE refuses settings that differ from the ones STORE was built with
(exit 2), before reading any document; a half-created store or a folder that is not a store is
refused with its remedy. SOURCE may also be a folder of `mixsearch embed` shards. The encoder
flags and the summary are shared with `embed` (`mixsearch.cli.embed`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mixsearch.cli.index_settings import check_new_settings, index_settings, open_for_adding
from mixsearch.cli.output import add_json_flag, emit
from mixsearch.errors import MixsearchError
from mixsearch.presets import config_path
from mixsearch.settings import DEFAULT_ENCODER

IGNORED_SHOWN = 5  # files of unsupported types named in the summary (all of them in --json)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "index",
        help="index a folder, JSONL file or MixBench subset into a store",
        description="Index a corpus. SOURCE is a folder (images, .txt/.md; an image with a "
        "same-stem .txt is one image+text document), a .jsonl file (id, text, image, metadata "
        "per line) or a MixBench subset folder. Adds to STORE if it exists, with the settings it "
        "was built with: a differing --encoder, --config, --index, --align or --alpha is refused.",
    )
    p.add_argument("source", type=Path)
    p.add_argument("--into", type=Path, required=True, metavar="STORE")
    add_encoder_args(p)
    p.add_argument(
        "--index",
        default=None,
        help="FAISS factory string (Flat, HNSW32, IVF1024,PQ64) or auto; "
        "HNSW32,efC200 sets HNSW's efConstruction",
    )
    p.add_argument(
        "--align",
        default=None,
        help="alignment: auto (fit on the corpus's image+text documents), none, or a folder "
        "saved by `mixsearch align fit`",
    )
    p.add_argument(
        "--alpha", type=float, default=None, help="text weight of image+text documents (0.5)"
    )
    p.add_argument("--no-progress", action="store_true")
    from mixsearch.cli.embed import add_ray_args

    add_ray_args(p)  # SOURCE may also be a folder of `mixsearch embed` shards
    p.add_argument(
        "--shards", type=Path, default=None, help="with --ray: keep the shards in this folder"
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_index)


def add_encoder_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--encoder", default=None, help=f"encoder name (default: {DEFAULT_ENCODER})")
    group.add_argument(
        "--config",
        type=config_path,
        default=None,
        help="TOML preset: a shipped one by name (offline-default, openclip-vit-b-32, "
        "openclip-vit-l-14) or a file",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def cmd_index(args: argparse.Namespace) -> int:
    from mixsearch.cli.embed import cmd_index_shards, uses_shards
    from mixsearch.corpus import read_corpus
    from mixsearch.engine import Engine

    if uses_shards(args):
        return cmd_index_shards(args)
    settings, given = index_settings(args)
    engine: Engine | None = None
    try:
        # Every setting is checked before any document is read or encoded.
        if _holds_store(args.into):
            engine = open_for_adding(args, settings, given)
        else:
            check_new_settings(settings)
        corpus = read_corpus(args.source)
        if not corpus.documents:
            reasons = "; ".join(str(e) for e in corpus.errors[:3])
            raise MixsearchError(
                f"no documents found in {args.source}" + (f" ({reasons})" if reasons else "")
            )
        if engine is None:
            engine = Engine.create(
                args.into,
                settings["encoder"],
                index=settings["index"],
                alignment=settings["align"],
                alpha=settings["alpha"],
                device=args.device,
            )
        report = engine.add(corpus.documents, progress=not args.no_progress)
        report.errors[:0] = corpus.errors
        payload = report.to_dict() | {
            "store": str(args.into),
            "documents": len(engine.store),
            "ignored": corpus.ignored,
        }
    finally:
        if engine is not None:
            engine.close()
    emit(payload, args.json, render_index)
    return 1 if report.errors else 0


def _holds_store(path: Path) -> bool:
    """Whether `index` adds to a store at ``path``; a half-created store or a folder that is not
    a store is refused here, with the remedy, before the corpus is read."""
    from mixsearch.store.layout import StoreState, refuse_unless_absent, store_state

    state = store_state(path)
    if state is StoreState.COMMITTED:
        return True
    if state is not StoreState.ABSENT:
        refuse_unless_absent(path, state)
    return False


def render_index(p: dict[str, Any]) -> str:
    lines = [
        f"indexed into {p['store']}: {p['added']} added, {p['updated']} updated, "
        f"{p['unchanged']} unchanged; {p['documents']} documents in the store",
        f"alignment: {p['alignment']}",
    ]
    if p["timings"]:
        lines.append("time: " + ", ".join(f"{k} {v:.2f}s" for k, v in p["timings"].items()))
    if p["ignored"]:
        shown = ", ".join(p["ignored"][:IGNORED_SHOWN])
        more = (
            f" and {len(p['ignored']) - IGNORED_SHOWN} more"
            if len(p["ignored"]) > IGNORED_SHOWN
            else ""
        )
        lines.append(f"{len(p['ignored'])} file(s) of other types ignored: {shown}{more}")
    if p["errors"]:
        lines.append(f"{len(p['errors'])} item(s) not indexed:")
        lines += [f"  {e['item']}: {e['reason']}" for e in p["errors"]]
    return "\n".join(lines)
