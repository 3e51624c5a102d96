"""The CLI's error policy: user errors are one line and status 2, bugs are one "internal error"
line and status 1, and ``MIXSEARCH_DEBUG=1`` shows the traceback of either."""

from __future__ import annotations

import errno
import logging

import pytest

from mixsearch.cli import store as store_commands
from mixsearch.cli.main import main
from mixsearch.errors import (
    BadInputError,
    EncoderMismatchError,
    FileAccessError,
    MixsearchError,
    StoreError,
    StoreNotFoundError,
)


def _failing_info(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """`mixsearch info` whose handler raises ``error`` (the parser is built per `main` call)."""

    def handler(args: object) -> int:
        raise error

    monkeypatch.setattr(store_commands, "cmd_info", handler)


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_a_missing_store_is_one_line_user_error(tmp_path, capsys) -> None:
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    (line,) = _stderr_lines(capsys)
    assert line.startswith("mixsearch info: error: ") and "not a mixsearch store" in line


@pytest.mark.parametrize(
    "error",
    [
        MixsearchError("plain\nmessage"),
        EncoderMismatchError("built with another encoder"),
        StoreNotFoundError("no store"),
        PermissionError(errno.EACCES, "Permission denied", "/some/store"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_user_errors_exit_2_with_one_line(monkeypatch, capsys, error) -> None:
    _failing_info(monkeypatch, error)
    assert main(["info", "store"]) == 2
    (line,) = _stderr_lines(capsys)
    assert line == f"mixsearch info: error: {' '.join(str(error).split())}"


@pytest.mark.parametrize("error", [ValueError("bad shape"), KeyError("alpha"), RuntimeError("x")])
def test_bugs_exit_1_with_internal_error_line(monkeypatch, capsys, error) -> None:
    _failing_info(monkeypatch, error)
    assert main(["info", "store"]) == 1
    (line,) = _stderr_lines(capsys)
    assert line.startswith(f"mixsearch info: internal error: {type(error).__name__}: ")
    assert line.endswith("(rerun with MIXSEARCH_DEBUG=1 for the traceback)")


@pytest.mark.parametrize("error", [RuntimeError("a bug"), StoreNotFoundError("no store")])
def test_debug_shows_the_traceback(monkeypatch, error) -> None:
    _failing_info(monkeypatch, error)
    monkeypatch.setenv("MIXSEARCH_DEBUG", "1")
    with pytest.raises(type(error)):
        main(["info", "store"])


def test_typed_errors_keep_the_old_catch_sites_working() -> None:
    """Callers that caught the three old types (or ValueError/OSError) still catch the new ones."""
    assert issubclass(StoreNotFoundError, StoreError)
    assert issubclass(BadInputError, MixsearchError) and issubclass(BadInputError, ValueError)
    assert issubclass(FileAccessError, MixsearchError) and issubclass(FileAccessError, OSError)
    from mixsearch.store import StoreError as reexported

    assert reexported is StoreError


def test_bad_log_level_is_a_user_error(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("MIXSEARCH_LOG_LEVEL", "LOUD")
    assert main(["info", str(tmp_path)]) == 2
    (line,) = _stderr_lines(capsys)
    assert "MIXSEARCH_LOG_LEVEL='LOUD' is not a level" in line


@pytest.mark.parametrize(
    ("flags", "level"), [([], logging.INFO), (["-v"], logging.DEBUG), (["-q"], logging.WARNING)]
)
def test_verbosity_flags_set_the_library_log_level(tmp_path, capsys, flags, level) -> None:
    main([*flags, "info", str(tmp_path / "nowhere")])
    assert logging.getLogger("mixsearch").level == level
    logging.getLogger("mixsearch.test").info("a library note")
    err = capsys.readouterr().err
    assert ("a library note" in err) == (level <= logging.INFO)
