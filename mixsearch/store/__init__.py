"""The unified store: FAISS index + SQLite document table + manifest in one crash-safe directory."""

from mixsearch.store.index_spec import choose_index_spec
from mixsearch.store.integrity import IntegrityReport
from mixsearch.store.store import Store, StoreError

__all__ = ["IntegrityReport", "Store", "StoreError", "choose_index_spec"]
