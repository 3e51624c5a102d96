"""Alignment between embedding spaces (numpy/scipy only): fit, apply, save, diagnose.

Rotating image embeddings onto the text side (plus per-side centering) is how mixed-modality
search puts images and texts in one ranking; the same maps bridge a new text model onto an index
built with an old one. See arXiv 2510.13406 ("When Embedding Models Meet: Procrustes Bounds").
"""

from mixsearch.align.alignment import Alignment
from mixsearch.align.crossval import DEFAULT_LAMBDAS
from mixsearch.align.fit import (
    METHODS,
    fit_alignment,
    fit_alignment_from_files,
    fit_alignment_streaming,
)
from mixsearch.align.report import alignment_report, format_report
from mixsearch.align.retrieval import pair_retrieval

__all__ = [
    "DEFAULT_LAMBDAS",
    "METHODS",
    "Alignment",
    "alignment_report",
    "fit_alignment",
    "fit_alignment_from_files",
    "fit_alignment_streaming",
    "format_report",
    "pair_retrieval",
]
