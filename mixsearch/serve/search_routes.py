"""The search routes: GET and POST /api/search, and the one answer shape of every search.

Each query runs on the query workers (`mixsearch.serve.workers`); a text or image query is
encoded outside the store lock and ranked inside a snapshot, so a concurrent write never shows
half-done. Each answer is ``{"query", "k", "offset", "next_offset", "hits": [...]}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request

from mixsearch.documents import Modality
from mixsearch.serve import limits
from mixsearch.serve.errors import ApiError
from mixsearch.serve.live import LiveStore
from mixsearch.serve.query_spec import QuerySpec, check_spec, parse_modality, parse_where_json
from mixsearch.serve.request_bodies import specs_from_request
from mixsearch.serve.workers import QueryWorkers


def add_search_routes(app: FastAPI, live: LiveStore, workers: QueryWorkers) -> None:
    @app.get("/api/search", summary="Search with one text query or 'more like' a document")
    async def search_get(
        q: str | None = Query(None, description="query text"),
        like: str | None = Query(None, description="document id: more like this document"),
        k: int = Query(10, description=f"hits per page, 1..{limits.MAX_K}"),
        offset: int = Query(0, description="hits to skip (paging)"),
        modality: str | None = Query(None, description="text, image, image+text; comma-separated"),
        where: str | None = Query(
            None, description='metadata filter as JSON: {"year": {"gte": 2020}}'
        ),
    ) -> dict[str, Any]:
        spec = QuerySpec(
            texts=[(q, 1.0)] if q is not None else [],
            like=like,
            k=k,
            offset=offset,
            modality=parse_modality(modality),
            where=parse_where_json(where),
        )
        check_spec(spec)
        return {"results": [await workers.run(_run_query, live, spec)]}

    @app.post(
        "/api/search",
        summary="Several queries (JSON), weighted terms, or an uploaded image (multipart)",
        description='JSON: {"queries": [{"text": "a dog" | [["a dog", 1.0], ["grass", -0.5]], '
        '"like": ID, "k": 10, "offset": 0, "modality": ["image"], "where": {...}}]} or one such '
        "object. Multipart: a file field `image` plus optional fields q, k, offset, modality, "
        "where (JSON).",
    )
    async def search_post(request: Request) -> dict[str, Any]:
        specs = await specs_from_request(request)
        results = [await workers.run(_run_query, live, spec) for spec in specs]
        return {"results": results}


def _run_query(live: LiveStore, spec: QuerySpec) -> dict[str, Any]:
    depth = spec.offset + spec.k
    options: dict[str, Any] = {"modality": spec.modality, "where": spec.where}
    if spec.like is not None:
        with live.snapshot() as engine:
            if not engine.store.contains([spec.like]):
                raise ApiError(404, f"no document with id {spec.like!r}")
            hits = engine.search_like(spec.like, depth, **options)
    else:
        # Encoding needs no store snapshot: it runs outside the lock, in parallel with others.
        images = [(spec.image, 1.0)] if spec.image is not None else []
        vector = live.engine.query_vector(texts=spec.texts, images=images)
        with live.snapshot() as engine:
            hits = engine.search_aligned(vector, depth, **options)[0]
    page = hits[spec.offset : depth]
    return {
        "query": spec.describe(),
        "k": spec.k,
        "offset": spec.offset,
        "next_offset": depth if len(hits) == depth and depth < limits.MAX_DEPTH else None,
        "hits": [_hit_json(h) for h in page],
    }


def _hit_json(hit: Any) -> dict[str, Any]:
    from mixsearch.rank import SNIPPET_CHARS

    text = hit.text
    truncated = text is not None and len(text) == SNIPPET_CHARS and text.endswith("…")
    doc = quote(hit.doc_id, safe="")
    return {
        "id": hit.doc_id,
        "rank": hit.rank,
        "score": round(float(hit.score), 6),
        "modality": hit.modality.label,
        "text": text,
        "text_truncated": truncated,
        "metadata": hit.metadata,
        "thumbnail": f"/api/thumbnails/{doc}" if hit.modality != Modality.TEXT else None,
        "document": f"/api/documents/{doc}",
    }
