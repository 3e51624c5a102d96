"""Benchmark reports: one call writes a markdown table, the JSON results and a PNG chart.

``results`` is the dict returned by `run_embeddings_benchmark`, `run_mixbench` or
`run_upgrade_benchmark`: ``results["methods"][name]`` holds the metrics of each method (or
``{"error": reason}``). Spreads are printed as ``value ± fit_sd`` with the query-bootstrap 95%
interval in brackets; see `mixsearch.eval.embeddings` for what each means.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mixsearch.eval.metrics import MODALITY_LABELS
from mixsearch.vectors import json_default

REPORT_MD = "report.md"
REPORT_JSON = "results.json"
REPORT_PNG = "ndcg.png"


def metric_names(k: int) -> list[str]:
    return [f"ndcg@{k}", "recall@1", f"recall@{k}", "mrr"]


def write_report(results: Mapping[str, Any], out_dir: str | Path, title: str) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and ``ndcg.png`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / REPORT_MD, "json": out / REPORT_JSON, "png": out / REPORT_PNG}
    paths["markdown"].write_text(markdown_report(results, title), encoding="utf-8")
    payload = {"title": title, **results}
    paths["json"].write_text(json.dumps(payload, indent=2, default=json_default) + "\n")
    write_chart(results, paths["png"], title)
    return paths


def markdown_report(results: Mapping[str, Any], title: str) -> str:
    """Methods side by side: overall metrics, per-modality nDCG, top-k modality shares."""
    k = int(results.get("k", 10))
    lines = [f"# {title}", "", _summary_line(results), ""]
    lines += _overall_table(results, k) + [""]
    lines += _modality_table(results, k) + [""]
    lines += _share_table(results, k) + [""]
    lines.append(
        "Values: headline (alignment fitted on all fit pairs) ± sd over refits on random "
        "subsets of the fit pairs, [95% bootstrap interval over test queries]."
    )
    for method, r in _ok_methods(results).items():
        if "lambda" in r:
            lines.append(f"- `{method}` chose λ = {r['lambda']} ({refit_lambda_note(results, r)})")
    failed = {m: r["error"] for m, r in results["methods"].items() if "error" in r}
    for method, reason in failed.items():
        lines.append(f"- `{method}` not run: {reason}")
    errors = results.get("errors") or []
    if errors:
        lines += ["", f"{len(errors)} items skipped, e.g. " + _error_text(errors[0])]
    return "\n".join(lines) + "\n"


def refit_lambda_note(results: Mapping[str, Any], r: Mapping[str, Any]) -> str:
    """How ``auto``'s refits got their λ: re-chosen by cross-validation, or the headline's."""
    refits = r.get("refit_lambdas", [])
    if not refits:
        return "no refits"
    if results.get("refit_cv", True):
        return "refits, each cross-validated: " + ", ".join(str(v) for v in refits)
    return "refits reuse it; --refit-cv re-chooses λ on each refit"


def _summary_line(results: Mapping[str, Any]) -> str:
    parts = [f"{results.get('n_queries', '?')} queries", f"{results.get('n_docs', '?')} documents"]
    counts = results.get("doc_modality_counts")
    if counts:
        parts.append("(" + ", ".join(f"{v} {m}" for m, v in counts.items()) + ")")
    if "n_fit_pairs" in results:
        parts.append(f"{results['n_fit_pairs']} fit pairs")
    if "alpha" in results:
        parts.append(f"α = {results['alpha']}")
    return ", ".join(parts) + "."


def _ok_methods(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {m: r for m, r in results["methods"].items() if "error" not in r}


def _overall_table(results: Mapping[str, Any], k: int) -> list[str]:
    names = metric_names(k)
    rows = ["| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for method, r in _ok_methods(results).items():
        cells = [_cell(r, name) for name in names]
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return rows


def _cell(r: Mapping[str, Any], name: str) -> str:
    text = f"{r[name]:.3f}"
    sd = r.get("fit_sd", {}).get(name)
    if sd is not None and r.get("n_refits"):
        text += f" ± {sd:.3f}"
    ci = r.get("ci95", {}).get(name)
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def _modality_table(results: Mapping[str, Any], k: int) -> list[str]:
    name = f"ndcg@{k}"

    def cell(r: Mapping[str, Any], m: str) -> str:
        group = r.get("by_modality", {}).get(m, {})
        return f"{group[name]:.3f} (n={group['n_queries']})" if group.get("n_queries") else "–"

    return _per_modality_table(results, f"{name} {{}} docs", cell)


def _share_table(results: Mapping[str, Any], k: int) -> list[str]:
    def cell(r: Mapping[str, Any], m: str) -> str:
        return f"{r.get(f'top{k}_share', {}).get(m, 0.0):.1%}"

    return _per_modality_table(results, f"top-{k} share {{}}", cell)


def _per_modality_table(
    results: Mapping[str, Any], column: str, cell: Callable[[Mapping[str, Any], str], str]
) -> list[str]:
    """Markdown rows: one row per method, one ``column.format(modality)`` column per modality."""
    header = " | ".join(column.format(m) for m in MODALITY_LABELS)
    rows = [f"| method | {header} |", "|---" * (len(MODALITY_LABELS) + 1) + "|"]
    for method, r in _ok_methods(results).items():
        rows.append(f"| {method} | " + " | ".join(cell(r, m) for m in MODALITY_LABELS) + " |")
    return rows


def write_chart(results: Mapping[str, Any], path: Path, title: str) -> None:
    """Grouped bars: nDCG@k overall and per relevant-document modality, one group per method."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt
    import numpy as np

    k = int(results.get("k", 10))
    name = f"ndcg@{k}"
    methods = _ok_methods(results)
    series = ["all", *MODALITY_LABELS]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(methods) + 2), 3.6))
    x = np.arange(len(methods))
    width = 0.8 / len(series)
    for j, group in enumerate(series):
        values = [_group_value(r, group, name) for r in methods.values()]
        errs = [
            r.get("fit_sd", {}).get(name, 0.0) if group == "all" else 0.0 for r in methods.values()
        ]
        ax.bar(x + (j - (len(series) - 1) / 2) * width, values, width, yerr=errs, label=group)
    ax.set_xticks(x, list(methods))
    ax.set_ylabel(f"nDCG@{k}")
    ax.set_ylim(0, 1.18)  # headroom for the legend above the bars
    ax.set_title(title, fontsize=10)
    ax.legend(title="relevant doc", fontsize=8, ncols=4, loc="upper center", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _group_value(r: Mapping[str, Any], group: str, name: str) -> float:
    if group == "all":
        return float(r[name])
    entry = r.get("by_modality", {}).get(group, {})
    return float(entry.get(name, 0.0)) if entry.get("n_queries") else 0.0


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return f"{error.get('item')}: {error.get('reason')}"
    return str(error)
