"""Entry point of the `mixsearch` console script.

Each command group lives in its own module exposing ``register(subparsers)``; a command's handler
returns an exit status. User errors (`MixsearchError`, bad arguments, file-system errors such as a
missing path, permissions or a full disk) print one line on stderr and exit with status 2 — never a
stack trace. Anything else is a bug: one "internal error" line and status 1. ``MIXSEARCH_DEBUG=1``
shows the traceback of either. Library log messages (logger ``mixsearch``) go to stderr at the level
``-v`` (DEBUG) / ``-q`` (WARNING) or ``MIXSEARCH_LOG_LEVEL`` sets (default: INFO, the progress
notes long commands print).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from mixsearch import __version__
from mixsearch.cli import threads
from mixsearch.errors import BadInputError, FileAccessError, MixsearchError

COMMAND_MODULES = ("store", "verify", "align", "bench", "embed", "serve")


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
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="log details too (level DEBUG)"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="log only warnings and errors"
    )
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
    argv = sys.argv[1:] if argv is None else list(argv)
    threads.preset_for_command(argv)  # before build_parser imports numpy
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        configure_logging(args)
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handling below
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_output()
    except Exception as err:
        if os.environ.get("MIXSEARCH_DEBUG"):
            raise
        return report_failure(args.command, err)


def closed_output() -> int:
    """The reader of our output went away (``mixsearch search ... | head -1``): stop quietly,
    as Unix tools do. Python would print a BrokenPipeError traceback when it flushes stdout on
    exit, so stdout is pointed at /dev/null first. Status 141 is what a shell reports for a tool
    ended by SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # SIGPIPE


def report_failure(command: str, err: Exception) -> int:
    """One line on stderr: a user error (status 2) or an internal one (status 1)."""
    user_error = as_user_error(err)
    if user_error is not None:
        print(f"mixsearch {command}: error: {_one_line(user_error)}", file=sys.stderr)
        return 2
    print(
        f"mixsearch {command}: internal error: {type(err).__name__}: {_one_line(err)} "
        "(rerun with MIXSEARCH_DEBUG=1 for the traceback)",
        file=sys.stderr,
    )
    return 1


def as_user_error(err: BaseException) -> MixsearchError | None:
    """The user-facing error ``err`` is, or None for a bug. A file-system error (missing path,
    permissions, disk full) is the user's to fix, so it becomes a `FileAccessError`."""
    if isinstance(err, MixsearchError):
        return err
    if isinstance(err, OSError):
        return FileAccessError.from_os_error(err)
    return None


def configure_logging(args: argparse.Namespace) -> None:
    """Library log records to stderr, as bare lines: ``-v`` DEBUG, ``-q`` WARNING, else
    ``MIXSEARCH_LOG_LEVEL`` (a level name) or INFO."""
    level: int | str = os.environ.get("MIXSEARCH_LOG_LEVEL", "INFO").upper()
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.WARNING
    logger = logging.getLogger("mixsearch")
    try:
        logger.setLevel(level)
    except ValueError:  # an unknown level name
        raise BadInputError(
            f"MIXSEARCH_LOG_LEVEL={level!r} is not a level; use DEBUG, INFO, WARNING or ERROR"
        ) from None
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not when the handler was
    made), so redirected or captured stderr gets the messages."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _one_line(err: BaseException | str) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
