"""`mixsearch align`: fit, apply and diagnose alignments on .npy embedding files.

    mixsearch align fit --source S.npy --target T.npy [--query Q.npy] --method auto --out DIR
    mixsearch align apply DIR --input X.npy --side source|target|query --output Y.npy
    mixsearch align report --source S.npy --target T.npy [--align DIR] [--json]

``fit`` streams the two files through memory maps, so it works on files larger than RAM. ``fit``
and ``report`` run their linear algebra on one BLAS thread: a fit is many small SVDs, which extra
threads only slow down on a busy machine (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from mixsearch.cli.output import add_json_flag, emit, table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "align",
        help="fit, apply and diagnose alignments between embedding spaces",
        description="Fit a map from one embedding space (source: images, or a new model) onto "
        "another (target: document text), apply it to .npy files, and report diagnostics.",
    )
    commands = parser.add_subparsers(dest="align_command", metavar="ACTION", required=True)
    _register_fit(commands)
    _register_apply(commands)
    _register_report(commands)


def _register_fit(commands: Any) -> None:
    from mixsearch.align import METHODS

    p = commands.add_parser("fit", help="fit an alignment on paired .npy files")
    p.add_argument("--source", required=True, help=".npy [N, ds]: side that gets mapped")
    p.add_argument(
        "--target", required=True, help=".npy [N, dt]: row i is the partner of source row i"
    )
    p.add_argument("--query", help=".npy [M, dt]: query vectors (their mean centres queries)")
    p.add_argument("--method", default="auto", choices=METHODS, help="default: %(default)s")
    p.add_argument("--out", required=True, help="directory to write the alignment into")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds for auto")
    p.add_argument("--no-center", dest="center", action="store_false", help="skip centering")
    p.add_argument("--scale", action="store_true", help="fit an isotropic scale too")
    p.add_argument("--seed", type=int, default=0)
    _add_objective_flags(p)
    p.add_argument("--chunk-rows", type=int, default=16_384, help="rows read per chunk")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    add_json_flag(p)
    p.set_defaults(handler=_fit)


def _add_objective_flags(p: argparse.ArgumentParser) -> None:
    from mixsearch.align.crossval import OBJECTIVES

    p.add_argument(
        "--objective",
        default="mixed",
        choices=OBJECTIVES,
        help="what auto's cross-validation ranks: mixed (held-out texts against images, other "
        "texts and fused image+text documents, as the engine ranks) or pairs (images only; for "
        "bridges between text models). Default: %(default)s",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="text weight of the fused image+text documents in the mixed gallery (as the "
        "store's --alpha); default %(default)s",
    )
    p.add_argument(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="the fit pairs are not image+text documents: no fused documents in the gallery",
    )


def _register_apply(commands: Any) -> None:
    p = commands.add_parser("apply", help="map a .npy file through a saved alignment")
    p.add_argument("alignment", metavar="DIR", help="directory written by `align fit`")
    p.add_argument("--input", required=True, help=".npy [N, d] vectors")
    p.add_argument("--side", required=True, help="source, target or query")
    p.add_argument("--output", required=True, help=".npy to write (float32, rows normalised)")
    p.add_argument("--no-normalize", dest="normalize", action="store_false")
    add_json_flag(p)
    p.set_defaults(handler=_apply)


def _register_report(commands: Any) -> None:
    p = commands.add_parser(
        "report",
        help="diagnostics: distortion, Procrustes bound, retrieval, and why auto chose its λ",
        description="Diagnostics; with --align DIR the objective settings are the alignment's "
        "own and --objective/--alpha/--no-fused only matter when auto is fitted here.",
    )
    p.add_argument("--source", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--align", help="saved alignment to diagnose (default: fit auto here)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    _add_objective_flags(p)
    add_json_flag(p)
    p.set_defaults(handler=_report)


def _fit(args: argparse.Namespace) -> int:
    from mixsearch.align.threads import one_blas_thread

    with one_blas_thread():
        alignment = _fit_files(args)
    alignment.save(args.out)
    summary = {**alignment.to_dict(), "out": str(args.out)}
    emit(summary, args.json, _render_fit)
    return 0


def _fit_files(args: argparse.Namespace) -> Any:
    from mixsearch.align import fit_alignment_from_files

    return fit_alignment_from_files(
        args.source,
        args.target,
        args.method,
        query_path=args.query,
        chunk_rows=args.chunk_rows,
        progress=args.progress and not args.json,
        center=args.center,
        scale=args.scale,
        folds=args.folds,
        seed=args.seed,
        objective=args.objective,
        alpha=args.alpha if args.fused else None,
    )


def _render_fit(summary: dict[str, Any]) -> str:
    rows = [
        [k, summary[k]]
        for k in (
            "method",
            "n_pairs",
            "source_dim",
            "target_dim",
            "lambda",
            "centered",
            "scale",
            "fingerprint",
            "out",
        )
    ]
    return table(rows, ["field", "value"])


def _apply(args: argparse.Namespace) -> int:
    from mixsearch.align import Alignment
    from mixsearch.align.validate import check_side, load_npy
    from mixsearch.fusion import l2_normalize

    check_side(args.side)
    alignment = Alignment.load(args.alignment)
    x = load_npy(args.input, "input")
    if alignment.extra.get("normalized_inputs", True):
        x = l2_normalize(x)  # the fit saw unit vectors, so the map expects them
    out = alignment.transform(x, args.side, normalize=args.normalize)
    _save_npy_atomic(Path(args.output), out)
    summary = {
        "output": args.output,
        "rows": out.shape[0],
        "dim": out.shape[1],
        "side": args.side,
        "alignment": alignment.fingerprint,
    }
    emit(summary, args.json, lambda s: f"wrote {s['rows']} x {s['dim']} vectors to {s['output']}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from mixsearch.align import Alignment, alignment_report, format_report
    from mixsearch.align.threads import one_blas_thread
    from mixsearch.align.validate import load_npy

    alignment = Alignment.load(args.align) if args.align else None
    with one_blas_thread():
        report = alignment_report(
            load_npy(args.source, "source"),
            load_npy(args.target, "target"),
            alignment,
            folds=args.folds,
            seed=args.seed,
            objective=args.objective,
            alpha=args.alpha if args.fused else None,
        )
    emit(report, args.json, format_report)
    return 0


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    from mixsearch.vectors import atomic_save_npy

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(path, array)
