"""The real server (uvicorn on a free loopback port) driven over HTTP with urllib."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from PIL import Image

from .server_helpers import (
    ThreadServer,
    free_port,
    get_json,
    post_image,
    post_json,
    request,
)

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, built_store: Path, corpus_dir: Path):
    """A copy of the session store with one symlinked image that points outside the corpus,
    served with an API key and a private thumbnail cache."""
    from mixsearch.documents import Document
    from mixsearch.engine import Engine

    base = tmp_path_factory.mktemp("served")
    store = Path(shutil.copytree(built_store, base / "store"))
    outside = base / "outside"
    outside.mkdir()
    shutil.copy(corpus_dir / "coffee.jpg", outside / "target.jpg")
    (base / "links").mkdir()
    (base / "links" / "link.jpg").symlink_to(outside / "target.jpg")
    with Engine.open(store) as engine:
        engine.add([Document("link.jpg", image=base / "links" / "link.jpg")], cache=False)
    server = ThreadServer(store, api_key=KEY, thumbnail_cache=base / "thumbs")
    server.base = base  # type: ignore[attr-defined]
    server.store = store  # type: ignore[attr-defined]
    yield server
    server.stop()


def search(served: ThreadServer, **params) -> tuple[int, dict]:
    return get_json(f"{served.url}/api/search?{urlencode(params)}")


def test_text_search_ranks_every_modality_with_one_shape(served: ThreadServer) -> None:
    status, body = search(served, q="a cat", k=25)
    assert status == 200
    (result,) = body["results"]
    assert result["query"]["text"] == [["a cat", 1.0]]
    hits = result["hits"]
    assert hits[0]["id"] == "chelsea.jpg"
    assert {h["modality"] for h in hits} == {"text", "image", "image+text"}
    for hit in hits:
        assert set(hit) == {
            "id", "rank", "score", "modality", "text", "text_truncated", "metadata",
            "thumbnail", "document",
        }  # fmt: skip
        assert (hit["thumbnail"] is None) == (hit["modality"] == "text")


def test_paging_continues_the_same_ranking(served: ThreadServer) -> None:
    _, whole = search(served, q="space", k=6)
    _, first = search(served, q="space", k=3)
    _, second = search(served, q="space", k=3, offset=3)
    ids = [h["id"] for h in whole["results"][0]["hits"]]
    assert [h["id"] for h in first["results"][0]["hits"]] == ids[:3]
    assert [h["id"] for h in second["results"][0]["hits"]] == ids[3:]
    assert [h["rank"] for h in second["results"][0]["hits"]] == [4, 5, 6]
    assert first["results"][0]["next_offset"] == 3
    _, last = search(served, q="space", k=10, offset=20)
    assert last["results"][0]["hits"] == [] and last["results"][0]["next_offset"] is None


def test_modality_and_where_filters(served: ThreadServer) -> None:
    _, body = search(served, q="a cat", k=20, modality="image")
    assert {h["modality"] for h in body["results"][0]["hits"]} == {"image"}
    # "+" in a query string reads as a space: image+text still means image+text.
    status, body = get_json(f"{served.url}/api/search?q=a+cat&modality=image+text")
    assert status == 200 and {h["modality"] for h in body["results"][0]["hits"]} == {"image+text"}
    _, body = search(served, q="a dog on a beach", where=json.dumps({"year": {"gte": 2021}}))
    assert sorted(h["id"] for h in body["results"][0]["hits"]) == ["note-2021", "note-2023"]
    assert body["results"][0]["hits"][0]["metadata"]["year"] in (2021, 2023)


def test_post_several_queries_and_weighted_terms(served: ThreadServer) -> None:
    payload = {
        "queries": [
            {"text": "coffee", "k": 30},
            {"text": [["coffee", 1.0], ["a cup on a saucer", -0.8]], "k": 30},
            {"like": "rocket.jpg", "k": 3, "modality": ["text"]},
        ]
    }
    status, body = post_json(f"{served.url}/api/search", payload)
    assert status == 200 and len(body["results"]) == 3
    plain, pushed, like = (r["hits"] for r in body["results"])
    rank = {h["id"]: h["rank"] for h in pushed}
    assert rank["coffee.jpg"] > {h["id"]: h["rank"] for h in plain}["coffee.jpg"]
    assert like[0]["id"] == "launch.txt" and all(h["modality"] == "text" for h in like)


def test_image_upload_and_more_like_this(served: ThreadServer, corpus_dir: Path) -> None:
    status, body = post_image(
        f"{served.url}/api/search", (corpus_dir / "chelsea.jpg").read_bytes(), k="5"
    )
    assert status == 200
    result = body["results"][0]
    assert result["query"]["image"] == "q.jpg" and result["hits"][0]["id"] == "chelsea.jpg"
    status, body = search(served, like="chelsea.jpg", k=5)
    assert status == 200 and "chelsea.jpg" not in [h["id"] for h in body["results"][0]["hits"]]
    assert search(served, like="nope")[0] == 404


def test_thumbnails_are_small_cached_and_revalidated(served: ThreadServer) -> None:
    url = f"{served.url}/api/thumbnails/astronaut.jpg"
    status, headers, data = request("GET", url)
    assert status == 200 and headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(data)) as image:
        assert max(image.size) == 256
    assert "max-age" in headers["cache-control"]
    cached = list((served.base / "thumbs").glob("*.jpg"))  # type: ignore[attr-defined]
    assert cached and not list(served.store.glob("*.jpg"))  # type: ignore[attr-defined]
    status, _, data = request("GET", url, headers={"If-None-Match": headers["etag"]})
    assert status == 304 and data == b""
    assert request("GET", f"{served.url}/api/thumbnails/cats.txt")[0] == 404  # a text document
    assert request("GET", f"{served.url}/api/thumbnails/unknown.jpg")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/thumbnails/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/thumbnails/%2Fetc%2Fpasswd",
        "/api/thumbnails//etc/passwd",
        "/api/thumbnails/%2e%2e/%2e%2e/etc/passwd",
        "/api/documents/..%2Fmanifest.json",
        "/api/thumbnails/..%252F..%252Fetc%252Fpasswd",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_paths_never_reach_files(served: ThreadServer, path: str) -> None:
    status, headers, data = request("GET", served.url + path)
    assert status == 404, (path, status, data[:200])
    assert b"root:" not in data and b"Traceback" not in data


def test_a_symlinked_image_serves_only_a_thumbnail_of_an_image(served: ThreadServer) -> None:
    link = served.base / "links" / "link.jpg"  # type: ignore[attr-defined]
    status, headers, data = request("GET", f"{served.url}/api/thumbnails/link.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    link.unlink()
    link.symlink_to("/etc/passwd")  # repointed after indexing: not an image, so nothing
    status, _, data = request("GET", f"{served.url}/api/thumbnails/link.jpg?fresh=1")
    # The thumbnail made before is cached under the indexed content's hash; a fresh cache
    # would try the file and refuse it. Either way no byte of the target is sent.
    assert b"root:" not in data
    shutil.rmtree(served.base / "thumbs")  # type: ignore[attr-defined]
    status, _, data = request("GET", f"{served.url}/api/thumbnails/link.jpg")
    assert status == 404 and b"root:" not in data and "unavailable" in json.loads(data)["error"]


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height pixels with almost no data: a decompression
    bomb's signature."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"q": "x", "k": 0}, 400, "k must lie"),
        ({"q": "x", "k": 101}, 400, "k must lie"),
        ({"q": "x", "k": "ten"}, 400, "k"),
        ({"q": "x", "offset": -1}, 400, "offset"),
        ({"q": "x", "offset": 995, "k": 10}, 400, "offset"),
        ({"q": "x" * 1001}, 400, "too long"),
        ({"q": "   "}, 400, "empty"),
        ({}, 400, "give a query"),
        ({"q": "x", "like": "chelsea.jpg"}, 400, "cannot be combined"),
        ({"q": "x", "modality": "video"}, 400, "unknown modality"),
        ({"q": "x", "where": "year>=2020"}, 400, "JSON object"),
        ({"q": "x", "where": "[1, 2]"}, 400, "JSON object"),
        ({"q": "x", "where": '{"year": {"ne": 1}}'}, 400, "gte, gt, lte, lt"),
        ({"q": "x", "where": '{"year": [1]}'}, 400, "values must be"),
    ],
)
def test_bad_search_parameters_are_4xx_json(served: ThreadServer, params, status, words) -> None:
    got, body = search(served, **params)
    assert got == status and words in body["error"], body


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"queries": []}, "expected"),
        ({"queries": [{"text": "x", "colour": "red"}]}, "unknown keys"),
        ({"text": [["x", "heavy"]]}, "weight"),
        ({"text": [["x", 20.0]]}, "outside"),
        ({"queries": [{"text": "x"}] * 17}, "at most 16"),
        ({"text": "x", "where": "year=1"}, "expected an object"),
        ([1, 2], "expected"),
    ],
)
def test_bad_json_bodies_are_400(served: ThreadServer, payload, words) -> None:
    status, body = post_json(f"{served.url}/api/search", payload)
    assert status == 400 and words in body["error"], body


def test_bad_uploads_are_400_or_413(served: ThreadServer) -> None:
    url = f"{served.url}/api/search"
    status, body = post_image(url, b"%PDF-1.4 not an image at all", filename="doc.pdf")
    assert status == 400 and "not a recognised image" in body["error"]
    status, body = post_image(url, _png_claiming(30_000, 30_000), filename="bomb.png")
    assert status == 413 and "too large" in body["error"]
    status, body = post_image(url, _png_claiming(8_000, 8_000), filename="big.png")
    assert status == 413 and "8000x8000" in body["error"]  # under Pillow's limit, over ours
    assert _declared_upload_status(served, 11 * 1024 * 1024) == 413  # answered before the body
    status, body = post_image(url, b"", filename="empty.jpg")
    assert status == 400
    status, _, raw = request("POST", url, body=b"q=x", headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(raw)["error"]
    status, _, raw = request(
        "POST", url, body=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "not valid JSON" in json.loads(raw)["error"]


def _declared_upload_status(served: ThreadServer, size: int) -> int:
    """Send only the headers of a multipart upload of ``size`` bytes; the server answers first."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.putrequest("POST", "/api/search")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        response = conn.getresponse()
        assert "too large" in json.loads(response.read())["error"]
        return response.status
    finally:
        conn.close()


def test_a_5xx_says_nothing_of_its_cause(served: ThreadServer) -> None:
    # A real failure inside a handler: the store's connection closed under the server.
    live = served.app.state.live
    engine = live.engine
    commits = engine.store._commits
    conn, commits.conn = commits.conn, None
    try:
        status, _, raw = request("GET", f"{served.url}/api/documents/chelsea.jpg")
    finally:
        commits.conn = conn
    assert status == 500 and json.loads(raw) == {"error": "internal server error"}


def test_documents_info_health_docs(served: ThreadServer) -> None:
    status, doc = get_json(f"{served.url}/api/documents/{quote('chelsea.jpg')}")
    assert status == 200 and doc["modality"] == "image+text" and "tabby" in doc["text"]
    status, info = get_json(f"{served.url}/api/info")
    assert status == 200 and info["documents"] >= 18 and info["writable"] is True
    status, health = get_json(f"{served.url}/healthz")
    assert status == 200 and health["status"] == "ok"
    status, headers, page = request("GET", f"{served.url}/docs")
    assert (
        status == 200 and b"/openapi.json" in page and b"http" not in page.split(b"<body>")[1][:0]
    )
    status, spec = get_json(f"{served.url}/openapi.json")
    assert {"/api/search", "/api/info", "/api/thumbnails/{doc_id}"} <= set(spec["paths"])
    status, headers, page = request("GET", served.url + "/")
    assert status == 200 and b"search-form" in page
    assert b"https://" not in page and b"http://" not in page  # nothing from a CDN


def test_writes_need_the_key(served: ThreadServer) -> None:
    url = f"{served.url}/api/documents"
    doc = {
        "documents": [{"id": "new-note", "text": "A giraffe eating leaves.", "metadata": {"n": 1}}]
    }
    assert post_json(url, doc)[0] == 401
    assert post_json(url, doc, {"X-API-Key": "wrong"})[0] == 401
    status, body = post_json(url, doc, {"Authorization": f"Bearer {KEY}"})
    assert status == 200 and body["added"] == 1
    _, found = search(served, q="a giraffe", k=1)
    assert found["results"][0]["hits"][0]["id"] == "new-note"
    assert request("DELETE", f"{url}/new-note")[0] == 401
    assert request("DELETE", f"{url}/new-note", headers={"X-API-Key": KEY})[0] == 200
    assert request("DELETE", f"{url}/new-note", headers={"X-API-Key": KEY})[0] == 404
    assert get_json(f"{url}/new-note")[0] == 404
    status, body = post_json(url, {"documents": [{"id": "x"}]}, {"X-API-Key": KEY})
    assert status == 400 and "text" in body["error"]


def test_a_server_without_a_key_is_read_only(built_store: Path) -> None:
    server = ThreadServer(built_store, warm=False)
    try:
        doc = {"documents": [{"id": "n", "text": "t"}]}
        status, body = post_json(f"{server.url}/api/documents", doc, {"X-API-Key": "anything"})
        assert status == 403 and "read-only" in body["error"]
        assert request("DELETE", f"{server.url}/api/documents/cats.txt")[0] == 403
        assert get_json(f"{server.url}/api/info")[1]["writable"] is False
    finally:
        server.stop()


def test_commits_by_another_writer_are_served_without_restart(served: ThreadServer) -> None:
    from mixsearch.documents import Document
    from mixsearch.engine import Engine

    _, before = get_json(f"{served.url}/healthz")
    with Engine.open(served.store) as other:  # type: ignore[attr-defined]
        other.add([Document("zebra-note", text="Zebras grazing on the savanna.")], cache=False)
    _, found = search(served, q="zebras on the savanna", k=1)
    assert found["results"][0]["hits"][0]["id"] == "zebra-note"
    _, after = get_json(f"{served.url}/healthz")
    assert after["generation"] > before["generation"]


def test_cli_warns_when_serving_the_network_without_a_key(built_store: Path) -> None:
    cmd = [sys.executable, "-m", "mixsearch", "serve", str(built_store), "--host", "0.0.0.0"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(free_port())],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = proc.stderr.readline()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.startswith("warning:") and "no API key" in first
