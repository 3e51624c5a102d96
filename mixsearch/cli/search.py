"""The `search` command: rank a store's documents for text or image queries.

mixsearch search STORE "query" -k 10 [-q "another"] [--image FILE] [--modality image]
                 [--where key=value] [--candidates N] [--rescore] [--json]
                 [--query-encoder NAME --bridge DIR]

Each query gets its own ranked list. Every flag (query texts, --where, -k, the bridge pair) is
checked before the store is opened or the encoder loaded; the store's encoder must match the one
it was built with unless the query goes through a bridge (`mixsearch bridge`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mixsearch.cli.output import add_json_flag, emit, table
from mixsearch.cli.threads import add_threads_flag, query_threads
from mixsearch.cli.threads import apply as apply_threads
from mixsearch.cli.where import parse_where
from mixsearch.errors import BadInputError, EncoderMismatchError, MixsearchError

SNIPPET_CHARS = 70


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "search",
        help="rank the store's documents for a text or image query",
        description='One query per QUERY (quote it: "a dog on a beach"); more queries with -q, '
        "image queries with --image. Each query gets its own ranked list.",
    )
    p.add_argument("store", type=Path)
    p.add_argument("query", nargs="*", help='the query text, quoted: "a dog on a beach"')
    p.add_argument(
        "-q",
        "--query",
        dest="queries",
        action="append",
        default=[],
        metavar="TEXT",
        help="another text query (repeatable)",
    )
    p.add_argument(
        "--image",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="search by this image: it is encoded like an image document (repeatable)",
    )
    p.add_argument("-k", type=int, default=10, help="hits per query (10)")
    p.add_argument(
        "--modality",
        choices=["text", "image", "image+text"],
        action="append",
        help="only these modalities (repeatable)",
    )
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata filter: key=value, key>=x, key<=x, key>x or key<x; values are JSON "
        'when they parse (3, true, "3"), else text; repeatable, all must hold',
    )
    p.add_argument("--candidates", type=int, default=None, help="FAISS candidates k' >= k")
    p.add_argument("--rescore", action="store_true", help="exact re-scoring of the candidates")
    p.add_argument(
        "--query-encoder", default=None, help="query with another encoder (needs --bridge)"
    )
    p.add_argument(
        "--bridge", type=Path, default=None, help="alignment from --query-encoder to the store's"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_threads_flag(p)
    add_json_flag(p)
    p.set_defaults(handler=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from mixsearch.engine import Engine

    texts = _query_texts(args)
    where = parse_where(args.where)  # before the store is opened or the encoder loaded
    apply_threads(query_threads(args.threads))
    check_bridge_flags(args)
    _check_hits(args.k, args.candidates)
    with Engine.open(args.store, device=args.device, readonly=True) as engine:
        if args.query_encoder is None:
            engine.check_encoder(remedy=SAME_ENCODER_REMEDY)
        options = {
            "modality": args.modality,
            "where": where,
            "candidates": args.candidates,
            "rescore": args.rescore,
        }
        results = []
        try:
            if texts:
                results = engine.search_batch(
                    texts, args.k, query_encoder=args.query_encoder, bridge=args.bridge, **options
                )
        except EncoderMismatchError as err:  # a bridge fitted for other encoders
            raise EncoderMismatchError(f"{err} with `mixsearch bridge`") from None
        image_hits = [engine.search(image=image, k=args.k, **options) for image in args.image]
    labels = [(q, None) for q in texts] + [(None, str(p)) for p in args.image]
    payload = {
        "results": [
            {"query": query, "image": image, "hits": [h.to_dict() for h in hits]}
            for (query, image), hits in zip(labels, results + image_hits, strict=True)
        ]
    }
    emit(payload, args.json, _render_search)
    return 0


SAME_ENCODER_REMEDY = (
    "use the same encoder, or query through a bridge (--query-encoder NAME --bridge DIR)"
)


def check_bridge_flags(args: argparse.Namespace) -> None:
    """--query-encoder and --bridge come together (the engine says so in its own terms)."""
    if args.bridge is not None and args.query_encoder is None:
        raise BadInputError("--bridge needs --query-encoder (the model the bridge maps from)")
    if args.query_encoder is not None and args.bridge is None:
        raise BadInputError(
            "querying with another encoder needs a bridge alignment (--bridge DIR); "
            "fit one with `mixsearch bridge STORE --query-encoder NAME --texts FILE --out DIR`"
        )


def _query_texts(args: argparse.Namespace) -> list[str]:
    """The text queries: at most one positional (a second word there is an unquoted query)."""
    if len(args.query) > 1:
        joined = " ".join(args.query)
        raise BadInputError(
            f"one query per search, quoted: mixsearch search {args.store} {json.dumps(joined)} "
            f"(several queries: -q {json.dumps(args.query[0])} -q {json.dumps(args.query[1])})"
        )
    texts = list(args.query) + list(args.queries)
    if not texts and not args.image:
        raise BadInputError('give a query: mixsearch search STORE "text", or --image FILE')
    return texts


def _render_search(payload: Any) -> str:
    out = []
    for block in payload["results"]:
        rows = [
            [h["rank"], f"{h['score']:.4f}", h["modality"], h["doc_id"], _snippet(h)]
            for h in block["hits"]
        ]
        label = block["query"] if block["query"] is not None else f"image {block['image']}"
        out.append(
            f"query: {label}\n" + table(rows, ["#", "score", "modality", "id", "text / image"])
        )
    return "\n\n".join(out)


def _snippet(hit: dict[str, Any]) -> str:
    text = " ".join((hit.get("text") or "").split())
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 1] + "…"
    image = hit.get("image_path")
    if image and text:
        return f"{text}  [{Path(image).name}]"
    return (text or f"[{Path(image).name}]") if image else text


def _check_hits(k: int, candidates: int | None) -> None:
    from mixsearch.engine import MAX_HITS

    if not 1 <= k <= MAX_HITS:
        raise MixsearchError(f"-k {k}: give between 1 and {MAX_HITS} hits per query")
    if candidates is not None and not 1 <= candidates <= 4 * MAX_HITS:
        raise MixsearchError(f"--candidates {candidates}: give between 1 and {4 * MAX_HITS}")
