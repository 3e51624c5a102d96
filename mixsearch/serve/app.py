"""The ASGI app: JSON API under /api, the search page at /, OpenAPI at /openapi.json and /docs.

Every search answers one shape, ``{"results": [{"query": ..., "k", "offset", "next_offset",
"hits": [...]}]}``, whether it came from GET or POST, as text, weighted terms, an uploaded image
or "more like this". Every error is JSON, ``{"error": "one line"}``, with a 4xx status for bad
input and a bare 500 without details (the traceback goes to the server log only).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from mixsearch import __version__
from mixsearch.documents import Document, Modality
from mixsearch.errors import ItemLoadError, MixsearchError
from mixsearch.serve import limits
from mixsearch.serve.live import LiveStore
from mixsearch.serve.thumbnails import etag_for, thumbnail_bytes, thumbnail_dir
from mixsearch.serve.workers import QueryWorkers

log = logging.getLogger("mixsearch.serve")
STATIC = resources.files("mixsearch.serve") / "static"
THUMBNAIL_CACHE_CONTROL = "public, max-age=3600"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class QuerySpec:
    """One search request, validated."""

    texts: list[tuple[str, float]] = field(default_factory=list)
    image: bytes | None = None
    image_name: str | None = None
    like: str | None = None
    k: int = 10
    offset: int = 0
    modality: list[str] | None = None
    where: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "text": [[t, w] for t, w in self.texts] or None,
            "image": self.image_name if self.image is not None else None,
            "like": self.like,
            "modality": self.modality,
            "where": self.where,
        }


def create_app(
    store: str | Path,
    *,
    api_key: str | None = None,
    device: str = "cpu",
    thumbnail_cache: Path | None = None,
    warm: bool = True,
    threads: int | None = None,
) -> FastAPI:
    """The app over ``store``; writes are allowed only when ``api_key`` is given. ``threads``:
    BLAS/OpenMP threads per query (None: the environment's, see `mixsearch.cli.threads`)."""
    live = LiveStore(Path(store), device=device, readonly=api_key is None)
    if warm:
        live.warm_up()
        threading.Thread(target=_warm_image_side, args=(live,), daemon=True).start()
    cache = thumbnail_cache or thumbnail_dir()
    workers = QueryWorkers(threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        workers.close()

    app = FastAPI(
        lifespan=lifespan,
        title="mixsearch",
        version=__version__,
        description="Mixed-modality search: one query ranks text, image and image+text documents.",
        docs_url=None,  # FastAPI's Swagger page loads from a CDN; /docs is served from the package
        redoc_url=None,
    )
    app.state.live = live
    app.state.workers = workers
    _install_error_handlers(app)
    _add_page_routes(app)
    _add_search_routes(app, live, workers)
    _add_document_routes(app, live, cache, api_key)
    return app


def _warm_image_side(live: LiveStore) -> None:
    """Load the image model in the background so the first image query does not wait for it."""
    try:
        encoder = live.engine.encoder
        load = getattr(encoder, "_load_image_side", None)
        if load is not None:
            load()
        live.image_model = "ready"
    except Exception:  # a store without an image encoder: image queries will say so
        live.image_model = "unavailable"
        log.debug("image side not warmed", exc_info=True)


# ---------------------------------------------------------------------- errors
def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse({"error": err.message}, status_code=err.status)

    @app.exception_handler(ItemLoadError)
    async def item_error(request: Request, err: ItemLoadError) -> JSONResponse:
        return JSONResponse({"error": f"{err.item}: {err.reason}"}, status_code=400)

    @app.exception_handler(MixsearchError)
    async def user_error(request: Request, err: MixsearchError) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(err).split())}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return JSONResponse(
            {"error": f"{where}: {first.get('msg', 'invalid value')}"}, status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception) -> JSONResponse:
        log.error("error serving %s %s", request.method, request.url.path, exc_info=err)
        return JSONResponse({"error": "internal server error"}, status_code=500)


# ---------------------------------------------------------------------- page, docs, health
def _add_page_routes(app: FastAPI) -> None:
    static = Path(str(STATIC))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(static / "docs.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", summary="Liveness: 200 with the store generation served")
    async def healthz(request: Request) -> dict[str, Any]:
        live: LiveStore = request.app.state.live
        return {
            "status": "ok",
            "generation": live.engine.store.generation,
            "image_model": live.image_model,  # "loading" until image queries answer at once
        }


# ---------------------------------------------------------------------- search
def _add_search_routes(app: FastAPI, live: LiveStore, workers: QueryWorkers) -> None:
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
            modality=_parse_modality(modality),
            where=_parse_where_json(where),
        )
        _check_spec(spec)
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
        specs = await _specs_from_request(request)
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


async def _specs_from_request(request: Request) -> list[QuerySpec]:
    content_type = request.headers.get("content-type", "")
    length = int(request.headers.get("content-length") or 0)
    if content_type.startswith("multipart/form-data"):
        if length > limits.MAX_UPLOAD_BYTES + 65536:
            raise ApiError(413, f"upload too large: at most {limits.MAX_UPLOAD_BYTES} bytes")
        return [await _spec_from_form(request)]
    if content_type.startswith("application/json"):
        body = await _json_body(request)
        queries = body.get("queries", [body]) if isinstance(body, dict) else None
        if not isinstance(queries, list) or not queries:
            raise ApiError(400, 'body: expected {"queries": [...]} or one query object')
        if len(queries) > limits.MAX_QUERIES:
            raise ApiError(400, f"at most {limits.MAX_QUERIES} queries per request")
        specs = [_spec_from_json(q, i) for i, q in enumerate(queries)]
        for spec in specs:
            _check_spec(spec)
        return specs
    raise ApiError(415, "send application/json or multipart/form-data (an `image` file field)")


async def _json_body(request: Request) -> Any:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limits.MAX_JSON_BYTES:
            raise ApiError(413, f"JSON body too large: at most {limits.MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"body is not valid JSON ({err})") from None


async def _spec_from_form(request: Request) -> QuerySpec:
    from starlette.datastructures import UploadFile

    try:
        form = await request.form(max_files=1, max_fields=16)
    except Exception as err:  # malformed multipart, too many parts
        raise ApiError(400, f"bad multipart body ({' '.join(str(err).split())})") from None
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "multipart search needs a file field named `image`")
    data = await upload.read(limits.MAX_UPLOAD_BYTES + 1)
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise ApiError(413, f"upload too large: at most {limits.MAX_UPLOAD_BYTES} bytes")
    if not data:
        raise ApiError(400, "image: empty upload (0 bytes)")
    _check_image_header(data, upload.filename or "upload")
    q = form.get("q")
    spec = QuerySpec(
        texts=[(str(q), 1.0)] if isinstance(q, str) and q.strip() else [],
        image=data,
        image_name=upload.filename or "upload",
        k=_int_field(form.get("k"), "k", 10),
        offset=_int_field(form.get("offset"), "offset", 0),
        modality=_parse_modality(_str_or_none(form.get("modality"))),
        where=_parse_where_json(_str_or_none(form.get("where"))),
    )
    _check_spec(spec)
    return spec


def _check_image_header(data: bytes, name: str) -> None:
    """Refuse what is not an image, or decodes to too many pixels, from its header alone."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            width, height = Image.open(io.BytesIO(data)).size
    except Image.DecompressionBombError:
        raise ApiError(
            413, f"{name}: image too large (over {limits.MAX_UPLOAD_PIXELS:,} pixels)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(400, f"{name}: not a recognised image (PNG, JPEG, WebP, GIF...)") from None
    if width * height > limits.MAX_UPLOAD_PIXELS:
        raise ApiError(
            413,
            f"{name}: image too large ({width}x{height} pixels; at most "
            f"{limits.MAX_UPLOAD_PIXELS:,} pixels)",
        )


def _spec_from_json(query: Any, index: int) -> QuerySpec:
    where = f"queries[{index}]"
    if not isinstance(query, dict):
        raise ApiError(400, f"{where}: expected an object")
    unknown = set(query) - {"text", "like", "k", "offset", "modality", "where"}
    if unknown:
        raise ApiError(400, f"{where}: unknown keys {sorted(unknown)}")
    modality = query.get("modality")
    if isinstance(modality, list):
        modality = ",".join(str(m) for m in modality)
    where_value = query.get("where")
    if where_value is not None and not isinstance(where_value, dict):
        raise ApiError(400, f"{where}.where: expected an object")
    return QuerySpec(
        texts=_terms(query.get("text"), where),
        like=_str_field(query.get("like"), f"{where}.like"),
        k=_int_field(query.get("k"), f"{where}.k", 10),
        offset=_int_field(query.get("offset"), f"{where}.offset", 0),
        modality=_parse_modality(modality),
        where=_checked_where(where_value) if where_value else None,
    )


def _terms(value: Any, where: str) -> list[tuple[str, float]]:
    """ "a dog" or [["a dog", 1.0], ["grass", -0.5]] (a bare string in the list weighs 1)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, 1.0)]
    if not isinstance(value, list):
        raise ApiError(400, f'{where}.text: a string or a list of ["text", weight] pairs')
    terms = []
    for item in value:
        if isinstance(item, str):
            terms.append((item, 1.0))
        elif (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int | float)
            and not isinstance(item[1], bool)
        ):
            terms.append((item[0], float(item[1])))
        else:
            raise ApiError(400, f'{where}.text: each term is "text" or ["text", weight]')
    return terms


def _check_spec(spec: QuerySpec) -> None:
    kinds = sum([bool(spec.texts) or spec.image is not None, spec.like is not None])
    if kinds == 0:
        raise ApiError(400, "give a query: q / text, an image, or like=DOCUMENT_ID")
    if kinds > 1:
        raise ApiError(400, "like=DOCUMENT_ID cannot be combined with text or an image")
    if len(spec.texts) > limits.MAX_TERMS:
        raise ApiError(400, f"at most {limits.MAX_TERMS} weighted terms per query")
    for text, weight in spec.texts:
        if not text.strip():
            raise ApiError(400, "empty query text")
        if len(text) > limits.MAX_QUERY_CHARS:
            raise ApiError(400, f"query text too long: at most {limits.MAX_QUERY_CHARS} characters")
        if not -10.0 <= weight <= 10.0:
            raise ApiError(400, f"term weight {weight} outside [-10, 10]")
    if not 1 <= spec.k <= limits.MAX_K:
        raise ApiError(400, f"k must lie in 1..{limits.MAX_K}, got {spec.k}")
    if spec.offset < 0 or spec.offset + spec.k > limits.MAX_DEPTH:
        raise ApiError(
            400, f"offset must be >= 0 with offset + k <= {limits.MAX_DEPTH}, got {spec.offset}"
        )


def _parse_modality(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    out = []
    for part in value.split(","):
        name = "+".join(part.strip().split())  # "image+text" arrives as "image text" in a URL
        try:
            out.append(Modality.parse(name).label)
        except ValueError:
            raise ApiError(
                400, f"unknown modality {part.strip()!r}: use text, image or image+text"
            ) from None
    return out


def _parse_where_json(value: str | None) -> dict[str, Any] | None:
    if value is None or not value.strip():
        return None
    if len(value) > limits.MAX_WHERE_CHARS:
        raise ApiError(400, f"where too long: at most {limits.MAX_WHERE_CHARS} characters")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise ApiError(
            400, 'where must be a JSON object, e.g. {"year": 2020} or {"year": {"gte": 2020}}'
        ) from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "where must be a JSON object")
    return _checked_where(parsed)


def _checked_where(where: dict[str, Any]) -> dict[str, Any]:
    for key, condition in where.items():
        if isinstance(condition, dict):
            bad = set(condition) - {"gte", "gt", "lte", "lt"}
            if bad or not condition:
                raise ApiError(400, f"where.{key}: ranges use gte, gt, lte, lt")
            values = list(condition.values())
        else:
            values = [condition]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise ApiError(400, f"where.{key}: values must be strings, numbers or booleans")
    return where


def _int_field(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ApiError(400, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be an integer, got {str(value)[:40]!r}") from None


def _str_field(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------- documents
def _add_document_routes(app: FastAPI, live: LiveStore, cache: Path, api_key: str | None) -> None:
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
        return await run_in_threadpool(_info, live, api_key is not None)

    @app.post("/api/documents", summary="Add or update text documents (needs the API key)")
    async def add_documents(request: Request) -> dict[str, Any]:
        _require_key(request, api_key)
        body = await _json_body(request)
        documents = _documents_from_json(body)
        return await run_in_threadpool(_add, live, documents)

    @app.delete("/api/documents/{doc_id:path}", summary="Remove a document (needs the API key)")
    async def remove_document(doc_id: str, request: Request) -> dict[str, Any]:
        _require_key(request, api_key)
        return await run_in_threadpool(_remove, live, doc_id)


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
        "limits": {
            "k": limits.MAX_K,
            "depth": limits.MAX_DEPTH,
            "query_chars": limits.MAX_QUERY_CHARS,
            "upload_bytes": limits.MAX_UPLOAD_BYTES,
        },
    }


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
