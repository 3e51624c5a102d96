"""Request limits of the HTTP API: past them, a 4xx JSON error names the limit."""

from __future__ import annotations

MAX_QUERY_CHARS = 1000  # one text term
MAX_TERMS = 16  # weighted terms in one query
MAX_QUERIES = 16  # queries in one POST /api/search
MAX_K = 100
MAX_DEPTH = 1000  # offset + k: deeper pages are refused
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # one uploaded query image
MAX_UPLOAD_PIXELS = 40_000_000  # decoded size of an uploaded image
MAX_JSON_BYTES = 1024 * 1024  # a JSON request body
MAX_DOCUMENTS_PER_ADD = 256  # POST /api/documents
MAX_WHERE_CHARS = 2000
