"""The routes for people and probes: the search page at /, the API docs at /docs, /healthz.

The page and the docs are static files shipped in the package (``mixsearch/serve/static``), so
the server needs no CDN; /healthz answers the generation served and whether the image model is
ready.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from mixsearch.serve.live import LiveStore

STATIC = resources.files("mixsearch.serve") / "static"


def add_page_routes(app: FastAPI) -> None:
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
