"""The write routes: add text documents, remove a document; both need the server's API key.

A server started without ``--api-key`` is read-only and answers 403; a wrong or missing key is
401 (compared in constant time). Writes go through `LiveStore.writing`, so searches keep
answering from the last committed generation meanwhile.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from mixsearch.documents import Document
from mixsearch.serve import limits
from mixsearch.serve.errors import ApiError
from mixsearch.serve.live import LiveStore
from mixsearch.serve.request_bodies import json_body


def add_write_routes(app: FastAPI, live: LiveStore, api_key: str | None) -> None:
    @app.post("/api/documents", summary="Add or update text documents (needs the API key)")
    async def add_documents(request: Request) -> dict[str, Any]:
        _require_key(request, api_key)
        body = await json_body(request)
        documents = _documents_from_json(body)
        return await run_in_threadpool(_add, live, documents)

    @app.delete("/api/documents/{doc_id:path}", summary="Remove a document (needs the API key)")
    async def remove_document(doc_id: str, request: Request) -> dict[str, Any]:
        _require_key(request, api_key)
        return await run_in_threadpool(_remove, live, doc_id)


def _require_key(request: Request, api_key: str | None) -> None:
    if api_key is None:
        raise ApiError(403, "this server is read-only: start it with --api-key to allow writes")
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not hmac.compare_digest(given.encode(), api_key.encode()):
        raise ApiError(401, "missing or wrong API key (X-API-Key or Authorization: Bearer)")


def _documents_from_json(body: Any) -> list[Document]:
    items = body.get("documents") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, 'body: expected {"documents": [{"id", "text", "metadata"}, ...]}')
    if len(items) > limits.MAX_DOCUMENTS_PER_ADD:
        raise ApiError(400, f"at most {limits.MAX_DOCUMENTS_PER_ADD} documents per request")
    documents = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"id", "text", "metadata"}:
            raise ApiError(400, f"documents[{i}]: expected an object with id, text, metadata")
        doc_id, text, metadata = item.get("id"), item.get("text"), item.get("metadata", {})
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise ApiError(400, f"documents[{i}].id: a non-empty string")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, f"documents[{i}].text: a non-empty string (images: `index`)")
        if not isinstance(metadata, dict):
            raise ApiError(400, f"documents[{i}].metadata: an object")
        documents.append(Document(doc_id, text=text, metadata=metadata))
    return documents


def _add(live: LiveStore, documents: list[Document]) -> dict[str, Any]:
    with live.writing() as engine:
        report = engine.add(documents, cache=False)
        count = len(engine.store)
    return report.to_dict() | {"documents": count}


def _remove(live: LiveStore, doc_id: str) -> dict[str, Any]:
    with live.writing() as engine:
        removed, missing = engine.remove([doc_id])
    if missing:
        raise ApiError(404, f"no document with id {doc_id!r}")
    return {"removed": removed}
