"""`mixsearch serve STORE`: the HTTP API and the search page (needs the `serve` extra).

mixsearch serve STORE [--host 127.0.0.1] [--port 8000] [--api-key KEY | $MIXSEARCH_API_KEY]

Read-only unless an API key is set; binding to all interfaces without one prints a warning.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mixsearch.cli.threads import add_threads_flag, query_threads
from mixsearch.cli.threads import apply as apply_threads
from mixsearch.errors import MixsearchError

API_KEY_ENV = "MIXSEARCH_API_KEY"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a store over HTTP: JSON API and a search page",
        description="Serve STORE: a search page at /, the JSON API under /api, OpenAPI docs at "
        "/docs. Commits made to STORE by other processes are picked up without a restart. "
        f"Writes (POST/DELETE /api/documents) need --api-key or ${API_KEY_ENV}.",
    )
    p.add_argument("store", type=Path)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (8000)")
    p.add_argument(
        "--api-key",
        default=None,
        help=f"allow write endpoints for requests carrying this key (default: ${API_KEY_ENV})",
    )
    add_threads_flag(p)
    p.add_argument("--device", default="cpu", help="cpu or cuda (query encoding)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    if not (args.store / "manifest.json").exists():
        raise MixsearchError(f"{args.store} is not a mixsearch store (no manifest.json)")
    if not 0 < args.port < 65536:
        raise MixsearchError(f"--port must lie in 1..65535, got {args.port}")
    try:
        import uvicorn

        from mixsearch.serve.app import create_app
    except ImportError as err:
        raise MixsearchError(
            f"serve needs the serve extra ({err.name} is missing): pip install 'mixsearch[serve]'"
        ) from None
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if args.host not in LOOPBACK and api_key is None:
        print(
            f"warning: serving {args.store} on {args.host} to the network with no API key: anyone "
            "who can reach it can search and read every document (writes stay disabled)",
            file=sys.stderr,
        )
    threads = query_threads(args.threads)
    apply_threads(threads)  # this thread loads the encoder and warms it up
    print(f"loading {args.store} ...", file=sys.stderr, flush=True)
    app = create_app(args.store, api_key=api_key, device=args.device, threads=threads)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"mixsearch serving {args.store} at http://{shown}:{args.port}/ "
        f"({'writes allowed with the API key' if api_key else 'read-only'})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,  # idle keep-alive connections must not hold up Ctrl-C
    )
    return 0
