"""The read-only routes about the store's contents: one document, its thumbnail, the store's info.

Thumbnails are JPEGs of at most 256 px made once and cached on disk
(`mixsearch.serve.thumbnails`); the answer carries an ETag, so a browser asks again with
If-None-Match and gets a 304.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mixsearch import __version__
from mixsearch.errors import ItemLoadError
from mixsearch.serve import limits
from mixsearch.serve.errors import ApiError
from mixsearch.serve.live import LiveStore
from mixsearch.serve.thumbnails import etag_for, thumbnail_bytes

THUMBNAIL_CACHE_CONTROL = "public, max-age=3600"


def add_document_routes(app: FastAPI, live: LiveStore, cache: Path, writable: bool) -> None:
    @app.get("/api/documents/{doc_id:path}", summary="One document's full record")
    async def document(doc_id: str) -> dict[str, Any]:
        record = await run_in_threadpool(_record, live, doc_id)
        url = quote(record.doc_id, safe="")
        return {
            "id": record.doc_id,
            "modality": record.modality.label,
            "text": record.text,
            "metadata": record.metadata,
            "has_image": record.image_path is not None,
            "thumbnail": f"/api/thumbnails/{url}" if record.image_path is not None else None,
        }

    @app.get(
        "/api/thumbnails/{doc_id:path}",
        summary=f"The document's own image, at most {256} px, JPEG (cached; ETag)",
        response_class=Response,
    )
    async def thumbnail(doc_id: str, request: Request) -> Response:
        record = await run_in_threadpool(_record, live, doc_id)
        if record.image_path is None:
            raise ApiError(404, f"document {doc_id!r} has no image")
        etag = f'"{etag_for(record.image_path, record.content_hash)}"'
        headers = {"ETag": etag, "Cache-Control": THUMBNAIL_CACHE_CONTROL}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        try:
            data = await run_in_threadpool(
                thumbnail_bytes, record.image_path, record.content_hash, cache
            )
        except ItemLoadError as err:
            raise ApiError(
                404, f"image of document {doc_id!r} unavailable ({err.reason})"
            ) from None
        return Response(data, media_type="image/jpeg", headers=headers)

    @app.get("/api/info", summary="The store: counts, encoder, alignment, generation")
    async def info() -> dict[str, Any]:
        return await run_in_threadpool(_info, live, writable)


def _record(live: LiveStore, doc_id: str) -> Any:
    with live.snapshot() as engine:
        found = engine.store.get([doc_id])
    if not found:
        raise ApiError(404, f"no document with id {doc_id!r}")
    return found[0]


def _info(live: LiveStore, writable: bool) -> dict[str, Any]:
    from mixsearch.settings import StoreSettings

    with live.snapshot() as engine:
        manifest = engine.info()
    settings = StoreSettings.from_manifest(manifest)
    return {
        "version": __version__,
        "store": live.path.name,
        "documents": manifest.get("documents", 0),
        "by_modality": manifest.get("counts", {}).get("by_modality", {}),
        "generation": manifest.get("generation"),
        "encoder": settings.encoder_label,
        "alignment": settings.alignment_label,
        "index": manifest.get("index_spec_resolved"),
        "writable": writable,
        "filter_partitions": manifest.get("filter_partitions"),
        "limits": {
            "k": limits.MAX_K,
            "depth": limits.MAX_DEPTH,
            "query_chars": limits.MAX_QUERY_CHARS,
            "upload_bytes": limits.MAX_UPLOAD_BYTES,
        },
    }
