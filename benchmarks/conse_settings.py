"""How the offline encoder's ConSE image vectors are made: class texts × softmax temperature × top-k.

The offline image vector is a mixture of the MiniLM embeddings of ImageNet class prompts, weighted
by the EfficientNet-lite0 softmax (`mixsearch.encoders.offline.conse_mixture`). This benchmark
encodes each dataset's images once to raw logits, then rebuilds the image vectors for every
setting and scores two things:

* **validation** — text→image recall@10 on the dataset's *fit* split (each caption against the
  distinct fit images, no alignment). This is what a setting is chosen by: the fit splits are the
  data the alignments are fitted on, disjoint from every test query and document.
* **test** — the mixed-modality benchmark of `mixsearch bench embeddings` (nDCG@10 overall and for
  queries whose target is image-only) with `none`, `center` and `auto` alignments, one fit on
  all fit pairs (no refits), reported for the record, never used to choose.

Datasets are the MixBench-layout folders the `scripts/build_*.py` scripts write under
``~/.cache/mixsearch/datasets/NAME/{test,fit}``.

    python benchmarks/conse_settings.py --datasets coco-mini,tuxpaint,openclipart \\
        --json benchmarks/out/conse_settings.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine_info, table  # noqa: E402

from mixsearch.align.crossval import duplicate_groups  # noqa: E402
from mixsearch.eval.embeddings import (  # noqa: E402
    EmbeddingSet,
    load_embeddings_dir,
    run_embeddings_benchmark,
)
from mixsearch.eval.mixbench import encode_to_dir, load_fit_data, load_mixbench  # noqa: E402
from mixsearch.fusion import l2_normalize  # noqa: E402

DATASETS = Path.home() / ".cache" / "mixsearch" / "datasets"
LOGITS = Path.home() / ".cache" / "mixsearch" / "bench" / "conse-logits"
TEST_METHODS = ("none", "center", "auto")


class LogitEncoder:
    """The offline encoder with its image output replaced by the raw ImageNet logits, so one
    encoding pass serves every ConSE setting. Text goes through the real text encoder."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dim = 1000

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_image_tensors(self, batch: Any, *, normalize: bool = True) -> np.ndarray:
        return self.inner.image_logits(batch)


def logits_dir(name: str, encoder: Any, out_root: Path) -> Path:
    """Encode a dataset once (test + fit) with image logits; reuse the folder afterwards."""
    out = out_root / name
    if (out / "meta.json").exists():
        return out
    root = DATASETS / name
    if not (root / "test").is_dir() or not (root / "fit").is_dir():
        raise SystemExit(f"{root}: no test/ and fit/ folders; build it with scripts/build_*.py")
    errors: list[Any] = []
    # No embedding cache: these rows are logits, not the encoder's vectors.
    encode_to_dir(
        load_mixbench(root / "test", None),
        load_fit_data(root / "fit", None),
        LogitEncoder(encoder),
        out,
        32,
        True,
        None,
        errors,
    )
    for err in errors:
        print(f"skipped {err.item}: {err.reason}", file=sys.stderr)
    return out


def with_image_vectors(logit_set: EmbeddingSet, encoder: Any) -> EmbeddingSet:
    """The logit set with its image rows turned into ConSE vectors by ``encoder``'s settings."""
    from mixsearch.encoders.offline import conse_mixture

    def conse(logits: np.ndarray | None) -> np.ndarray | None:
        if logits is None:
            return None
        vectors = conse_mixture(logits, encoder.class_embeddings, encoder.topk, encoder.temperature)
        return l2_normalize(vectors)

    return dataclasses.replace(
        logit_set, doc_image=conse(logit_set.doc_image), fit_image=conse(logit_set.fit_image)
    )


def fit_recall_at_10(emb: EmbeddingSet, fit_logits: np.ndarray) -> float:
    """Each fit caption against the distinct fit images (identical logit rows are one image)."""
    groups = duplicate_groups(fit_logits)
    _, first = np.unique(groups, return_index=True)
    sims = l2_normalize(emb.fit_text) @ emb.fit_image[first].T
    true = sims[np.arange(len(sims)), groups]
    return float(np.mean((sims > true[:, None]).sum(axis=1) < 10))


def evaluate(emb: EmbeddingSet, fit_logits: np.ndarray) -> dict[str, Any]:
    results = run_embeddings_benchmark(emb, TEST_METHODS, splits=1, bootstrap=200)
    test = {}
    for method, res in results["methods"].items():
        test[method] = {
            "ndcg@10": res["ndcg@10"],
            "ndcg@10_image_only": res["by_modality"]["image"]["ndcg@10"],
        }
    return {"fit_recall@10": fit_recall_at_10(emb, fit_logits), "test": test}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="coco-mini,tuxpaint,openclipart")
    parser.add_argument("--class-texts", default="name,description")
    parser.add_argument("--temperatures", default="1,2,3")
    parser.add_argument("--topks", default="50")
    parser.add_argument("--logits", type=Path, default=LOGITS, help="where the logits are kept")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from mixsearch.encoders.offline import OfflineDefaultEncoder

    names = args.datasets.split(",")
    settings = [
        (text, float(temp), int(topk))
        for text in args.class_texts.split(",")
        for temp in args.temperatures.split(",")
        for topk in args.topks.split(",")
    ]
    encoders = {
        text: OfflineDefaultEncoder(class_text=text) for text in args.class_texts.split(",")
    }
    logit_sets = {
        name: load_embeddings_dir(logits_dir(name, encoders[settings[0][0]], args.logits))
        for name in names
    }
    rows = []
    for text, temperature, topk in settings:
        encoder = encoders[text]
        encoder.temperature, encoder.topk = temperature, topk
        row: dict[str, Any] = {"class_text": text, "temperature": temperature, "topk": topk}
        for name, logit_set in logit_sets.items():
            emb = with_image_vectors(logit_set, encoder)
            row[name] = evaluate(emb, logit_set.fit_image)
            print(f"{text} T={temperature:g} top-{topk} {name}: {row[name]}", file=sys.stderr)
        row["mean_fit_recall@10"] = float(np.mean([row[n]["fit_recall@10"] for n in names]))
        rows.append(row)
    chosen = max(rows, key=lambda r: r["mean_fit_recall@10"])
    print(render(rows, names, chosen))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"machine": machine_info(), "datasets": names, "rows": rows, "chosen": chosen}
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def render(rows: list[dict[str, Any]], names: list[str], chosen: dict[str, Any]) -> str:
    header = ["class text", "T", "top-k", "mean fit R@10"]
    for name in names:
        header += [f"{name} fit R@10", f"{name} nDCG@10 auto", f"{name} image-only auto"]
    body = []
    for row in rows:
        mark = " ←" if row is chosen else ""
        line = [row["class_text"], f"{row['temperature']:g}", str(row["topk"])]
        line.append(f"{row['mean_fit_recall@10']:.3f}{mark}")
        for name in names:
            auto = row[name]["test"]["auto"]
            line += [
                f"{row[name]['fit_recall@10']:.3f}",
                f"{auto['ndcg@10']:.3f}",
                f"{auto['ndcg@10_image_only']:.3f}",
            ]
        body.append(line)
    return table(body, header)


if __name__ == "__main__":
    raise SystemExit(main())
