"""The server's errors as JSON: ``{"error": "one line"}`` with a 4xx status for bad input.

`ApiError` carries the status and message a route wants to answer with; `install_error_handlers`
turns it, the library's `MixsearchError`s, FastAPI's validation errors and Starlette's HTTP errors
into that one shape, and answers anything else with a bare 500 whose traceback goes to the
server log only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mixsearch.errors import ItemLoadError, MixsearchError

log = logging.getLogger("mixsearch.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def install_error_handlers(app: FastAPI) -> None:
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
