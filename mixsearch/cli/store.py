"""Store commands: index, search, info, remove, compact, tune, bridge.

mixsearch index SOURCE --into STORE [--encoder NAME | --config PRESET|FILE] [--index SPEC]
                                    [--align DIR|auto|none] [--alpha 0.5]
mixsearch search STORE "query" -k 10 [-q "another"] [--image FILE] [--modality image]
                 [--where key=value] [--json]
mixsearch info STORE [--json]
mixsearch remove STORE ID [ID ...]
mixsearch compact STORE [--index SPEC]
mixsearch tune STORE --target-recall 0.95 [--queries FILE]
mixsearch bridge STORE --query-encoder NAME --texts FILE --out DIR

Every command takes --json. `index` into an existing STORE refuses settings that differ from the
ones STORE was built with (exit 2), before reading any document.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from mixsearch.cli.index_settings import check_new_settings, index_settings, open_for_adding
from mixsearch.cli.output import add_json_flag, emit, table
from mixsearch.cli.threads import add_threads_flag, query_threads
from mixsearch.cli.threads import apply as apply_threads
from mixsearch.errors import BadInputError, EncoderMismatchError, MixsearchError
from mixsearch.presets import config_path
from mixsearch.settings import DEFAULT_ENCODER

SNIPPET_CHARS = 70
IGNORED_SHOWN = 5  # files of unsupported types named in the summary (all of them in --json)


def register(subparsers: Any) -> None:
    _register_index(subparsers)
    _register_search(subparsers)
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
        help="recall@k to reach (0.95); without --queries the tuner aims half-way to 1",
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
    _register_bridge(subparsers)


def _register_index(subparsers: Any) -> None:
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
    _add_encoder_args(p)
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


def _register_search(subparsers: Any) -> None:
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


def _register_bridge(subparsers: Any) -> None:
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


def _add_encoder_args(p: argparse.ArgumentParser) -> None:
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


# ---------------------------------------------------------------------- handlers
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
    emit(payload, args.json, _render_index)
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


def _render_index(p: dict[str, Any]) -> str:
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
    aim = result.get("aim")
    recall = f"{result['recall']:.4f}" + (f" (aim {aim:.4f})" if aim is not None else "")
    recall += "" if result.get("reached", True) else " — not reached; the largest value is kept"
    rows: list[tuple[str, Any]] = [
        ("search params", ", ".join(f"{key}={v}" for key, v in params.items()) + " (stored)"),
        (f"recall@{k}", recall),
        ("queries", result.get("queries")),
    ]
    if result.get("qps") is not None:
        rows.append(("queries/s", f"{result['qps']:.0f}"))
    if result.get("curve"):
        rows.append(("curve", ", ".join(f"{v}: {r:.3f}" for v, r in result["curve"])))
    return _fields([(key, v) for key, v in rows if v is not None])


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
