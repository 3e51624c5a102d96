"""MixBench (Li et al. 2025, hub dataset ``mixed-modality-search/MixBench25``) on local files.

Layout of one subset folder (MSCOCO, Google_WIT, VisualNews, OVEN)::

    SUBSET/queries.jsonl        {"query_id", "text", "image"?}   (OVEN queries carry an image)
    SUBSET/corpus.jsonl         {"corpus_id", "text", "image"}   every document image+text
    SUBSET/mixed_corpus.jsonl   same ids; text-only, image-only and image+text documents 1:1:1
    SUBSET/qrels/qrels.tsv      header "query_id corpus_id score"; one relevant document per query

``image`` names a file the way the authors' pipeline resolves it (``src/extract_embedding_clip.py``
joins it to ``SUBSET/images/``): we look relative to the subset folder, then in ``SUBSET/images/``,
then for ``SUBSET/images/<file name>`` (other tools keep only the base name), so bare names,
``images/…`` prefixes and absolute paths all load. When most of a corpus's images are missing the
load stops with one line saying where it looked (the images were not downloaded), instead of
silently dropping every image document. A missing, null or empty ``text``/``image`` field means
the item lacks that part; ids may be strings or integers. ``mixed_corpus.jsonl`` is the
benchmark's corpus when present.

The later parquet releases (MixBench2025/2026: ``*.parquet`` files per split — ``query``,
``corpus``/``mixed_corpus``, ``qrel`` — with ``id``/``query_id``/``corpus_id``, ``text`` and
``image`` as bytes or a path) are read with pyarrow (``pip install 'mixsearch[parquet]'``); their
embedded images are written once to ``~/.cache/mixsearch/mixbench-images`` (content-addressed).

Evaluation (`run_mixbench`) encodes everything once, writes a precomputed-embedding folder (so a
result is reproducible and re-running other methods is cheap) and runs
`mixsearch.eval.embeddings.run_embeddings_benchmark` on it. Alignments and means are fitted only
on data disjoint from the test queries and corpus — another folder (``fit=``) or a held-out half
(``fit_split=``) — and `check_disjoint` enforces it before anything is encoded.

Query images (OVEN's queries are image+text) are not used — the engine's queries are text — and
never make a query unusable, found or not; the results say how many queries had one and that they
were not used (``query_images``).

The code lives in one module per idea, and this module re-exports their public names:
`mixsearch.eval.mixbench_folder` (finding and loading a subset, the hub download),
`mixsearch.eval.mixbench_rows` (rows → queries, documents, qrels; image resolution),
`mixsearch.eval.mixbench_parquet` (parquet releases), `mixsearch.eval.mixbench_fit` (fit data
and the disjointness guard) and `mixsearch.eval.mixbench_run` (encoding and the run).
"""

from mixsearch.eval.mixbench_fit import FitData, check_disjoint, load_fit_data, split_for_fit
from mixsearch.eval.mixbench_folder import (
    CORPUS_FILES,
    HUB_REPO,
    PARQUET_IMAGE_CACHE,
    PARQUET_SPLITS,
    QRELS_FILE,
    QUERIES_FILE,
    SUBSETS,
    MixBenchSubset,
    download_mixbench,
    load_mixbench,
)
from mixsearch.eval.mixbench_rows import (
    IMAGE_DIR,
    MixQuery,
    image_candidates,
    read_corpus_jsonl,
    resolve_image,
)
from mixsearch.eval.mixbench_run import encode_to_dir, run_mixbench

__all__ = [
    "CORPUS_FILES",
    "HUB_REPO",
    "IMAGE_DIR",
    "PARQUET_IMAGE_CACHE",
    "PARQUET_SPLITS",
    "QRELS_FILE",
    "QUERIES_FILE",
    "SUBSETS",
    "FitData",
    "MixBenchSubset",
    "MixQuery",
    "check_disjoint",
    "download_mixbench",
    "encode_to_dir",
    "image_candidates",
    "load_fit_data",
    "load_mixbench",
    "read_corpus_jsonl",
    "resolve_image",
    "run_mixbench",
    "split_for_fit",
]
