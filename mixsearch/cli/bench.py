"""`mixsearch bench`: compare alignment methods on retrieval benchmarks.

    mixsearch bench embeddings DIR --methods none,center,procrustes,auto,lstsq [--alpha 0.5]
                                   [--refit-cv] [--out DIR] [--json]
    mixsearch bench mixbench PATH [--subset MSCOCO ...] [--encoder NAME | --config TOML]
                                  [--methods ...] (--fit PATH | --fit-split 0.5) [--download]
                                  [--out DIR] [--json]

Each run writes ``report.md``, ``results.json`` and ``ndcg.png`` under ``--out`` (per subset for
MixBench, beside the encoded ``embeddings/`` folder that `bench embeddings` can re-run cheaply).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mixsearch.cli.output import add_json_flag, emit, table
from mixsearch.errors import MixsearchError
from mixsearch.presets import config_path
from mixsearch.settings import DEFAULT_ALPHA, DEFAULT_ENCODER

DEFAULT_METHODS = "none,center,procrustes,auto,lstsq"
DEFAULT_OUT = Path("bench-results")


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser("bench", help="benchmark alignment methods (nDCG@10, R@1, ...)")
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    _register_embeddings(sub)
    _register_mixbench(sub)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--methods", default=DEFAULT_METHODS, help=f"comma-separated ({DEFAULT_METHODS})"
    )
    p.add_argument(
        "--alpha", type=float, default=DEFAULT_ALPHA, help="text weight of image+text documents"
    )
    p.add_argument("-k", type=int, default=10, help="cut-off of nDCG@k and Recall@k")
    p.add_argument("--splits", type=int, default=5, help="refits on random fit subsets for ± sd")
    p.add_argument(
        "--refit-cv",
        action="store_true",
        help="re-choose auto's λ by cross-validation on each refit (the ± sd then covers the "
        "choice of λ too; about 6× slower). Default: refits reuse the headline λ",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    add_json_flag(p)


def _register_embeddings(sub: Any) -> None:
    p = sub.add_parser(
        "embeddings", help="precomputed-embedding folder (docs/embeddings-format.md)"
    )
    p.add_argument("dir", type=Path, metavar="DIR")
    _add_common(p)
    p.set_defaults(handler=cmd_embeddings)


def _register_mixbench(sub: Any) -> None:
    p = sub.add_parser("mixbench", help="a local copy of the MixBench25 dataset")
    p.add_argument("path", type=Path, metavar="PATH")
    p.add_argument("--subset", nargs="+", default=None, help="MSCOCO, Google_WIT, VisualNews, OVEN")
    enc = p.add_mutually_exclusive_group()
    enc.add_argument("--encoder", default=None, help=f"encoder name (default: {DEFAULT_ENCODER})")
    enc.add_argument(
        "--config",
        type=config_path,
        default=None,
        help="TOML preset with an [encoder] table: a shipped one by name or a file",
    )
    fit = p.add_mutually_exclusive_group(required=True)
    fit.add_argument(
        "--fit",
        type=Path,
        default=None,
        help="disjoint fit data (recommended): a MixBench-layout folder or a JSONL of "
        "image/text pairs",
    )
    fit.add_argument(
        "--fit-split",
        type=float,
        default=None,
        help="hold out this share of the query/document pairs for fitting (shrinks the test "
        "corpus: not comparable with the paper's figures; prefer --fit)",
    )
    p.add_argument("--download", action="store_true", help="fetch missing subsets from the hub")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk embedding cache")
    _add_common(p)
    p.set_defaults(handler=cmd_mixbench)


def parse_methods(text: str) -> list[str]:
    from mixsearch.align import METHODS

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise MixsearchError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; use {', '.join(METHODS)}"
        )
    return methods


def cmd_embeddings(args: argparse.Namespace) -> int:
    from mixsearch.eval.embeddings import run_embeddings_benchmark
    from mixsearch.eval.report import write_report

    results = run_embeddings_benchmark(
        args.dir,
        parse_methods(args.methods),
        alpha=args.alpha,
        k=args.k,
        splits=args.splits,
        seed=args.seed,
        refit_cv=args.refit_cv,
    )
    paths = write_report(results, args.out, f"Precomputed embeddings: {args.dir.name}")
    results["report"] = {name: str(p) for name, p in paths.items()}
    emit(results, args.json, render_results)
    return 0


def cmd_mixbench(args: argparse.Namespace) -> int:
    from mixsearch.eval.mixbench import load_fit_data, load_mixbench, run_mixbench
    from mixsearch.eval.report import write_report

    methods = parse_methods(args.methods)
    # Read every input before loading the encoder (slow), so data problems surface at once.
    loaded = []
    for name in args.subset or [None]:
        subset = load_mixbench(args.path, name, download=args.download)
        fit = load_fit_data(args.fit, name) if args.fit is not None else None
        loaded.append((subset, fit))
    encoder = _create_encoder(args)
    payload: dict[str, Any] = {}
    for subset, fit in loaded:
        out = args.out / subset.name
        results = run_mixbench(
            subset,
            encoder,
            methods,
            fit=fit,
            fit_split=args.fit_split,
            seed=args.seed,
            out_dir=out,
            alpha=args.alpha,
            k=args.k,
            splits=args.splits,
            refit_cv=args.refit_cv,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            cache=_embedding_cache(args),
        )
        paths = write_report(results, out, f"MixBench {subset.name} ({_encoder_name(encoder)})")
        results["report"] = {key: str(p) for key, p in paths.items()}
        payload[subset.name] = results
    emit(payload, args.json, _render_subsets)
    return 0


def _embedding_cache(args: argparse.Namespace) -> Any:
    """The on-disk embedding cache, so a rerun does not encode the same images again."""
    if args.no_cache:
        return None
    from mixsearch.encoders import EmbeddingCache, default_cache_dir

    return EmbeddingCache(default_cache_dir())


def _render_subsets(payload: dict[str, Any]) -> str:
    return "\n\n".join(f"== {name}\n{render_results(r)}" for name, r in payload.items())


def _create_encoder(args: argparse.Namespace) -> Any:
    from mixsearch.encoders import create_encoder

    spec: Any = args.encoder or DEFAULT_ENCODER
    if args.config is not None:
        from mixsearch.encoders import load_encoder_config

        config = load_encoder_config(args.config)
        spec = config.get("encoder", config)
    return create_encoder(spec, device=args.device)


def _encoder_name(encoder: Any) -> str:
    return str(getattr(encoder, "name", type(encoder).__name__))


def render_results(results: dict[str, Any]) -> str:
    """Plain table of the headline metrics per method, plus failures and the report location."""
    from mixsearch.eval.report import refit_lambda_note

    k = int(results.get("k", 10))
    names = [f"ndcg@{k}", "recall@1", f"recall@{k}", "mrr"]
    rows, notes = [], []
    for method, r in results["methods"].items():
        if "error" in r:
            notes.append(f"{method}: not run ({r['error']})")
            continue
        rows.append([method] + [r[n] for n in names] + [r["fit_sd"][names[0]]])
    text = [
        f"{results['n_queries']} queries, {results['n_docs']} documents",
        table(rows, ["method", *names, f"ndcg@{k} fit sd"]),
    ]
    text += notes
    text += [
        f"{method}: λ = {r['lambda']} ({refit_lambda_note(results, r)})"
        for method, r in results["methods"].items()
        if "lambda" in r
    ]
    if results.get("errors"):
        text.append(
            f"{len(results['errors'])} item(s) skipped, e.g. "
            f"{results['errors'][0]['item']}: {results['errors'][0]['reason']}"
        )
    if "report" in results:
        text.append(f"report: {results['report']['markdown']}")
    return "\n".join(text)
