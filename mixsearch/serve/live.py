"""A long-lived engine that follows commits made by other processes.

Every request takes one SQLite read snapshot (`Store.read_snapshot`: a single indexed read) and
compares its generation with the one the in-memory FAISS index was loaded at. When another process
(``mixsearch index`` into the same store) has committed since, the store is reopened — the encoder
is kept — before the request runs. A commit is one SQLite transaction and the hits are resolved
inside the snapshot the index matches, so a request sees a whole commit or none of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mixsearch.engine import Engine


class LiveStore:
    """The current `Engine` of a store; use `snapshot()` around each request's store reads."""

    def __init__(self, path: Path, *, device: str = "cpu", readonly: bool = True) -> None:
        self.path = path
        self.readonly = readonly  # a server without an API key never writes the store
        self._lock = threading.Lock()  # one reader of the SQLite connection at a time
        self.engine = Engine.open(path, device=device, readonly=readonly)
        self.engine.store.warm()  # hits from memory from the first request on
        self.reopened = 0
        self.image_model = "loading"  # set by the server's warm-up thread

    @property
    def has_encoder(self) -> bool:
        return self.engine.store.manifest.get("extra", {}).get("encoder_spec") is not None

    def warm_up(self) -> None:
        """Load the text side now (the first query would otherwise pay for it), laid out for
        many queries where the encoder can (`keep_warm`)."""
        encoder = self.engine.encoder
        keep_warm = getattr(encoder, "keep_warm", None)
        if keep_warm is not None:
            keep_warm()
        encoder.encode_texts(["warm up"])

    @contextmanager
    def snapshot(self) -> Iterator[Engine]:
        """The engine, current as of now, with its store inside one read snapshot."""
        with self._lock:
            while True:
                with self.engine.store.read_snapshot() as generation:
                    if generation == self.engine.store.generation:
                        yield self.engine
                        return
                self._reopen()

    @contextmanager
    def writing(self) -> Iterator[Engine]:
        """The engine for a write (add / remove); the store takes its own write lock."""
        with self._lock:
            yield self.engine

    def _reopen(self) -> None:
        encoder = self.engine.encoder if self.has_encoder else None
        # only the vector rows committed since are hashed: the rest were verified by this engine
        fresh = Engine.open(
            self.path, encoder=encoder, readonly=self.readonly, replacing=self.engine
        )
        fresh.store.warm()
        old, self.engine = self.engine, fresh
        old.close()
        self.reopened += 1

    def close(self) -> None:
        with self._lock:
            self.engine.close()
