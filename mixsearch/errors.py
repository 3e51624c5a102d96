"""Errors that reach users: one clear line, never a stack trace.

`MixsearchError` is raised for whole-command failures (bad arguments, a store built with another
encoder, weights that cannot be fetched); the CLI prints its message and exits with status 2.
`ItemError` is a *record*, not an exception: one bad document or file among many good ones,
reported with its reason while the rest of the batch proceeds.
"""

from __future__ import annotations

from dataclasses import dataclass


class MixsearchError(Exception):
    """A user-facing failure; ``str(err)`` is the whole message."""


class ItemLoadError(MixsearchError):
    """One item (file, document, row) could not be read; carries the item and the reason."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason

    def record(self) -> ItemError:
        return ItemError(self.item, self.reason)


@dataclass(frozen=True)
class ItemError:
    """A per-item failure kept beside the successful results of a batch."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"item": self.item, "reason": self.reason}
