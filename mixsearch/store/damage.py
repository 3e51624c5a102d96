"""The errors of a committed file that does not match its commit record."""

from __future__ import annotations

from mixsearch.errors import StoreCorruptError


class StoreDamagedError(StoreCorruptError):
    """A committed file does not match its commit record; `mixsearch verify --repair` fixes it."""


class VectorsDamagedError(StoreDamagedError):
    """The vector file does not match its commit records: the one copy of those vectors is lost,
    so no repair brings them back (the documents can be indexed again)."""
