"""Which alignment an engine applies: the ``alignment=`` argument read (an `Alignment`, a saved
folder, ``"none"`` or ``"auto"``), a store's own alignment loaded and checked against the
fingerprint its manifest records, and the label reports show. (``auto``'s fit on the corpus's
image+text documents is a step of the ingest path, `mixsearch.ingest`.)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mixsearch.errors import AlignmentError
from mixsearch.settings import ALIGNMENT_DIR, StoreSettings

if TYPE_CHECKING:
    from mixsearch.align import Alignment
    from mixsearch.engine import Engine


def resolve_alignment_arg(alignment: Alignment | str | Path | None) -> Alignment | str | None:
    if alignment is None or (isinstance(alignment, str) and alignment in ("none", "")):
        return None
    if isinstance(alignment, str) and alignment == "auto":
        return "auto"
    if isinstance(alignment, str | Path):
        return load_alignment(alignment)
    return alignment


def load_alignment(value: Alignment | str | Path) -> Alignment:
    from mixsearch.align import Alignment

    if isinstance(value, Alignment):
        return value
    folder = Path(value)
    if not folder.is_dir():
        raise AlignmentError(f"alignment folder {folder} does not exist")
    return Alignment.load(folder)


def load_store_alignment(path: Path, settings: StoreSettings) -> Alignment | None:
    expected = settings.alignment_fingerprint
    if not expected:
        return None
    alignment = load_alignment(path / (settings.alignment_file or ALIGNMENT_DIR))
    if alignment.fingerprint != expected:
        raise AlignmentError(
            f"{path}: alignment file has fingerprint {alignment.fingerprint}, the manifest "
            f"records {expected}; the store's alignment was replaced — re-index or restore it"
        )
    return alignment


def alignment_label(engine: Engine) -> str:
    if engine._alignment == "auto":
        return "auto (not fitted yet: no documents added)"
    alignment = engine.alignment
    origin = engine._alignment_origin
    if alignment is None:
        return origin or "none"
    return f"{alignment.method} ({origin or 'given'})"
