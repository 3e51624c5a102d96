"""Reading a POST body within the server's limits: JSON, or multipart with an uploaded image.

A JSON body is read in chunks and refused as soon as it passes its size limit; a multipart
upload is refused by its declared length, its read length, and an image header that is not an
image or decodes to too many pixels, all before the image is decoded or encoded.
"""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi import Request

from mixsearch.serve import limits
from mixsearch.serve.errors import ApiError
from mixsearch.serve.query_spec import (
    QuerySpec,
    check_spec,
    int_field,
    parse_modality,
    parse_where_json,
    spec_from_json,
    str_or_none,
)


async def specs_from_request(request: Request) -> list[QuerySpec]:
    content_type = request.headers.get("content-type", "")
    length = int(request.headers.get("content-length") or 0)
    if content_type.startswith("multipart/form-data"):
        if length > limits.MAX_UPLOAD_BYTES + 65536:
            raise ApiError(413, f"upload too large: at most {limits.MAX_UPLOAD_BYTES} bytes")
        return [await _spec_from_form(request)]
    if content_type.startswith("application/json"):
        body = await json_body(request)
        queries = body.get("queries", [body]) if isinstance(body, dict) else None
        if not isinstance(queries, list) or not queries:
            raise ApiError(400, 'body: expected {"queries": [...]} or one query object')
        if len(queries) > limits.MAX_QUERIES:
            raise ApiError(400, f"at most {limits.MAX_QUERIES} queries per request")
        specs = [spec_from_json(q, i) for i, q in enumerate(queries)]
        for spec in specs:
            check_spec(spec)
        return specs
    raise ApiError(415, "send application/json or multipart/form-data (an `image` file field)")


async def json_body(request: Request) -> Any:
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
        k=int_field(form.get("k"), "k", 10),
        offset=int_field(form.get("offset"), "offset", 0),
        modality=parse_modality(str_or_none(form.get("modality"))),
        where=parse_where_json(str_or_none(form.get("where"))),
    )
    check_spec(spec)
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
