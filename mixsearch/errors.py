"""Errors that reach users: one clear line, never a stack trace.

`MixsearchError` is raised for whole-command failures (bad arguments, a store built with another
encoder, weights that cannot be fetched); the CLI prints its message and exits with status 2.
Anything else reaching the CLI is a bug: status 1 and a short "internal error" line
(``MIXSEARCH_DEBUG=1`` shows the traceback). The subclasses below let a caller catch one kind of
failure; each keeps the message it had when it was a plain `MixsearchError`.
`ItemError` is a *record*, not an exception: one bad document or file among many good ones,
reported with its reason while the rest of the batch proceeds.

    MixsearchError
    ├── BadInputError (also a ValueError)  an argument or value the caller gave is invalid
    │   ├── IndexSpecError                 a FAISS index spec or search parameter
    │   └── EncoderSpecError               an encoder name, option, preset or device
    ├── EncoderError
    │   ├── EncoderSpecError
    │   ├── WeightsUnavailableError        weights not installed, not cached, not fetchable
    │   └── EncoderMismatchError           a store or bridge made with another encoder
    ├── AlignmentError                     an alignment folder unreadable, or not the store's
    ├── StoreError
    │   ├── StoreNotFoundError             not a store (yet)
    │   ├── StoreExistsError               refusing to create over an existing store/folder
    │   ├── StoreCorruptError              damaged or unreadable files
    │   ├── StoreVersionError              written in a format this version does not read
    │   ├── StoreSettingsError             built with other settings than the caller expects
    │   ├── StoreLockedError               another process keeps writing it
    │   └── StoreInputError (+BadInputError) records, vectors, queries or filters refused
    ├── FileAccessError (also an OSError)  a path the user gave cannot be read or written
    └── ItemLoadError                      one item (file, row) could not be read
"""

from __future__ import annotations

from dataclasses import dataclass


class MixsearchError(Exception):
    """A user-facing failure; ``str(err)`` is the whole message."""


class BadInputError(MixsearchError, ValueError):
    """An argument or value the caller gave is invalid (k < 1, an empty query, a bad filter)."""


class IndexSpecError(BadInputError):
    """An index spec that is not a FAISS factory string (or does not fit the dimension), or bad
    search parameters."""


class EncoderError(MixsearchError):
    """The encoder cannot be built, loaded or used as asked."""


class EncoderSpecError(EncoderError, BadInputError):
    """An unknown encoder name, a bad option or preset, or a device/precision it cannot run on."""


class WeightsUnavailableError(EncoderError):
    """Model weights are not installed, not in the cache, or cannot be fetched."""


class EncoderMismatchError(EncoderError):
    """The encoder's fingerprint is not the one the store (or a bridge) was built with."""


class AlignmentError(MixsearchError):
    """An alignment folder is missing, unreadable, or not the one a store recorded."""


class StoreError(MixsearchError):
    """The store directory is missing, not a store, built differently, or inconsistent."""


class StoreNotFoundError(StoreError):
    """The path is not a mixsearch store (or the store holds nothing yet)."""


class StoreExistsError(StoreError):
    """Refusing to create a store where one (or other files) already are."""


class StoreCorruptError(StoreError):
    """The store's files are damaged or unreadable."""


class StoreVersionError(StoreError):
    """The store was written in a format this version does not read."""


class StoreSettingsError(StoreError):
    """The store was built with other settings than the caller expects."""


class StoreLockedError(StoreError):
    """Another process has held the store's write lock for too long."""


class StoreInputError(StoreError, BadInputError):
    """Records, vectors, queries or filters the store refuses (duplicate ids, bad shapes, zero
    vectors, unknown filter keys); a refused write adds nothing."""


class FileAccessError(MixsearchError, OSError):
    """A path cannot be read or written (missing, permissions, disk full): the user's to fix."""

    @classmethod
    def from_os_error(cls, err: OSError) -> FileAccessError:
        """The same message as ``err`` (``[Errno 13] Permission denied: 'path'``)."""
        return cls(str(err) or type(err).__name__)


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
