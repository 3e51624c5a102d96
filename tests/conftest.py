"""Test-wide settings: the embedding cache goes to a temporary folder, never the user's home."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MIXSEARCH_CACHE_DIR", tempfile.mkdtemp(prefix="mixsearch-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
