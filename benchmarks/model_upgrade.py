"""Model upgrade without re-embedding: search an index built with model A using queries from model B.

Data: real Debian package descriptions (``scripts/build_debian_text_pairs.py``): each package's long
description is a document, its one-line synopsis the query (one relevant document per query).
Model A = all-MiniLM-L6-v2 (``minilm-l6``) embeds the corpus; model B = paraphrase-MiniLM-L3-v2 as
ONNX (``minilm-l3-onnx``) embeds the queries. The B→A map is fitted on *other* packages' texts
(their synopses and long descriptions, alternating), embedded by both models; fit packages never
appear in the test. Methods: none (B's raw vectors), procrustes, auto, lstsq, and the ceiling (the
queries embedded by A itself). The same run is repeated with growing numbers of fit pairs, which is
the curve that says how many paired texts an upgrade needs.

    python benchmarks/model_upgrade.py [--n-test 2000] [--n-fit 10000] [--fit-sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine_info  # noqa: E402

from mixsearch.encoders import EmbeddingCache, create_encoder, encode_texts_cached  # noqa: E402
from mixsearch.eval.report import write_report  # noqa: E402
from mixsearch.eval.upgrade import UPGRADE_METHODS, run_upgrade_benchmark  # noqa: E402

DEFAULT_PAIRS = Path.home() / ".cache" / "mixsearch" / "datasets" / "debian-text-pairs.jsonl"
DEFAULT_OUT = Path.home() / ".cache" / "mixsearch" / "bench" / "model-upgrade"
MODEL_A, MODEL_B = "minilm-l6", "minilm-l3-onnx"


def read_pairs(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(
            f"model_upgrade: {path} not found; build it with scripts/build_debian_text_pairs.py"
        )
    pairs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        row = json.loads(line) if line.strip() else None
        if not row or not row.get("query") or not row.get("doc"):
            print(f"{path.name} line {lineno}: needs 'query' and 'doc', skipped", file=sys.stderr)
            continue
        pairs.append(row)
    return pairs


def split_pairs(
    pairs: list[dict], n_test: int, n_fit: int, seed: int
) -> tuple[list[dict], list[str]]:
    """Test packages, and fit texts from other packages (synopsis, long description, next package…)."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    test, rest = order[:n_test], order[n_test:]
    fit_texts = [text for pair in rest for text in (pair["query"], pair["doc"])][:n_fit]
    if len(test) < n_test or len(fit_texts) < n_fit:
        raise SystemExit(
            f"model_upgrade: {len(pairs)} pairs cannot give {n_test} test + {n_fit} fit"
        )
    return test, fit_texts


def encode_all(
    test: list[dict], fit_texts: list[str], cache: EmbeddingCache | None, batch: int
) -> dict:
    """All vectors the benchmark needs, with encode times (seconds) per model."""
    vectors: dict[str, Any] = {}
    for label, spec, jobs in (
        (
            "a",
            MODEL_A,
            {
                "docs_a": [p["doc"] for p in test],
                "queries_a": [p["query"] for p in test],
                "fit_a": fit_texts,
            },
        ),
        ("b", MODEL_B, {"queries_b": [p["query"] for p in test], "fit_b": fit_texts}),
    ):
        encoder = create_encoder(spec, device="cpu")
        start = time.perf_counter()
        for key, texts in jobs.items():
            vectors[key] = encode_texts_cached(encoder, texts, cache=cache, batch_size=batch)
        vectors[f"seconds_{label}"] = round(time.perf_counter() - start, 1)
    return vectors


def run_curve(
    vectors: dict, sizes: list[int], methods: list[str], splits: int, seed: int
) -> dict[int, dict]:
    qrels = np.arange(len(vectors["docs_a"]))
    curve = {}
    for size in sizes:
        print(f"fitting on {size} pairs", file=sys.stderr, flush=True)
        curve[size] = run_upgrade_benchmark(
            vectors["docs_a"],
            vectors["queries_b"],
            vectors["queries_a"],
            vectors["fit_b"][:size],
            vectors["fit_a"][:size],
            qrels,
            methods,
            splits=splits,
            seed=seed,
        )
    return curve


def curve_table(curve: dict[int, dict], metric: str) -> str:
    methods = list(next(iter(curve.values()))["methods"])
    lines = ["| fit pairs | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for size, results in curve.items():
        cells = [_value(results["methods"][m], metric) for m in methods]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _value(result: dict, metric: str) -> str:
    if "error" in result:
        return "n/a"
    value = result[metric]
    return f"{value['value']:.3f}" if isinstance(value, dict) else f"{value:.3f}"


def curve_chart(curve: dict[int, dict], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(curve)
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in next(iter(curve.values()))["methods"]:
        values = [_number(curve[s]["methods"][method], metric) for s in sizes]
        if all(v is None for v in values):
            continue
        style = "--" if method in ("ceiling", "none") else "-o"
        ax.plot(sizes, values, style, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("fit pairs (texts embedded by both models)")
    ax.set_ylabel(metric)
    ax.set_title("Model upgrade: B queries on A index")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _number(result: dict, metric: str) -> float | None:
    if "error" in result:
        return None
    value = result[metric]
    return float(value["value"] if isinstance(value, dict) else value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="JSONL of {query, doc}")
    parser.add_argument(
        "--n-test", type=int, default=2000, help="test packages (queries = documents)"
    )
    parser.add_argument("--n-fit", type=int, default=10000, help="largest number of fit pairs")
    parser.add_argument(
        "--fit-sizes", default="100,1000,10000", help="comma-separated curve points (<= --n-fit)"
    )
    parser.add_argument("--methods", default=",".join(UPGRADE_METHODS))
    parser.add_argument(
        "--splits", type=int, default=3, help="refits on random fit subsets, for the spread"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sizes = sorted(
        {min(int(s), args.n_fit) for s in args.fit_sizes.split(",") if s.strip()} | {args.n_fit}
    )
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    test, fit_texts = split_pairs(read_pairs(args.pairs), args.n_test, args.n_fit, args.seed)
    cache = None if args.no_cache else EmbeddingCache()
    vectors = encode_all(test, fit_texts, cache, args.batch_size)
    curve = run_curve(vectors, sizes, methods, args.splits, args.seed)
    main_results = curve[args.n_fit]
    main_results["dataset"] = {
        "pairs": str(args.pairs),
        "model_a": MODEL_A,
        "model_b": MODEL_B,
        "encode_seconds": {"a": vectors["seconds_a"], "b": vectors["seconds_b"]},
    }
    paths = write_report(
        main_results, args.out, f"Model upgrade ({MODEL_B} queries on a {MODEL_A} index)"
    )
    metric = f"ndcg@{main_results['k']}"
    curve_chart(curve, metric, args.out / "fit_curve.png")
    summary = {
        "machine": machine_info(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "curve": {str(s): r for s, r in curve.items()},
    }
    (args.out / "curve.json").write_text(json.dumps(summary, indent=2, default=_plain) + "\n")
    (args.out / "curve.md").write_text(curve_table(curve, metric) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2, default=_plain))
    else:
        print(paths["markdown"].read_text(encoding="utf-8"))
        print(f"{metric} by number of fit pairs:\n{curve_table(curve, metric)}")
        print(f"reports in {args.out}")
    return 0


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


if __name__ == "__main__":
    sys.exit(main())
