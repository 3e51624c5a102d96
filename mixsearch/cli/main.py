"""Entry point of the `mixsearch` console script.

Each command group lives in its own module exposing ``register(subparsers)``; a command's handler
returns an exit status. User errors (`MixsearchError`, bad arguments, file-system errors) print one line
on stderr and exit with status 2 — never a stack trace. ``MIXSEARCH_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mixsearch import __version__
from mixsearch.errors import MixsearchError

COMMAND_MODULES = ("store", "align", "bench")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``mixsearch search: error: ...; see `mixsearch
    search --help```, status 2 (the stock parser prints its whole usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
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
    _tag_subparsers(parser)
    return parser


def _tag_subparsers(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser records itself in the namespace, so arguments it does not know
    are reported against it (``mixsearch search: error: unrecognized arguments: ...``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(_parser=sub)
                _tag_subparsers(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.handler(args) or 0)
    # OSError: a missing, unreadable or full path (permissions, disk space) is the user's to fix.
    except (MixsearchError, OSError, ValueError) as err:
        if os.environ.get("MIXSEARCH_DEBUG"):
            raise
        print(f"mixsearch {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(err: BaseException | str) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
