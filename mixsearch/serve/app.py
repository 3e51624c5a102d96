"""The ASGI app: JSON API under /api, the search page at /, OpenAPI at /openapi.json and /docs.

Every search answers one shape, ``{"results": [{"query": ..., "k", "offset", "next_offset",
"hits": [...]}]}``, whether it came from GET or POST, as text, weighted terms, an uploaded image
or "more like this". Every error is JSON, ``{"error": "one line"}``, with a 4xx status for bad
input and a bare 500 without details (the traceback goes to the server log only).

`create_app` builds the app from the modules of each idea: `page_routes`, `search_routes`,
`document_routes` and `write_routes`, with requests parsed by `query_spec` and
`request_bodies` and errors answered by `errors`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from mixsearch import __version__
from mixsearch.serve.document_routes import add_document_routes
from mixsearch.serve.errors import install_error_handlers
from mixsearch.serve.live import LiveStore
from mixsearch.serve.page_routes import add_page_routes
from mixsearch.serve.search_routes import add_search_routes
from mixsearch.serve.thumbnails import thumbnail_dir
from mixsearch.serve.workers import QueryWorkers
from mixsearch.serve.write_routes import add_write_routes

log = logging.getLogger("mixsearch.serve")


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
    BLAS/OpenMP threads per query (None: the environment's, see `mixsearch.query_threads`)."""
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
    install_error_handlers(app)
    add_page_routes(app)
    add_search_routes(app, live, workers)
    add_document_routes(app, live, cache, writable=api_key is not None)
    add_write_routes(app, live, api_key)
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
