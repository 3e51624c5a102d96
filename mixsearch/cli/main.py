"""Entry point of the `mixsearch` console script.

Each command group lives in its own module exposing ``register(subparsers)``; a command's handler
returns an exit status. User errors (`MixsearchError`, bad arguments, missing files) print one line
on stderr and exit with status 2 — never a stack trace. ``MIXSEARCH_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mixsearch import __version__
from mixsearch.errors import MixsearchError

COMMAND_MODULES = ("store", "align", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixsearch",
        description="Mixed-modality retrieval: one text query ranks text, image and image+text "
        "documents together.",
    )
    parser.add_argument("--version", action="version", version=f"mixsearch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mixsearch.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (MixsearchError, FileNotFoundError, NotADirectoryError, ValueError) as err:
        if os.environ.get("MIXSEARCH_DEBUG"):
            raise
        print(f"mixsearch {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
