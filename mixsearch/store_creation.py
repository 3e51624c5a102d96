"""Creating an engine's store, crash-safely, once its alignment is known.

The first `add` claims the directory (its write lock) before any document is encoded, so a second
creator is told at once; the store is then created in one SQLite commit that records the settings
(`StoreSettings`), after the alignment was saved. A failure before that commit leaves nothing
behind (`abandon_creation`). The state lives on the `Engine` (``_claim``, ``_store``); these are its
creation steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixsearch.errors import StoreExistsError
from mixsearch.settings import ALIGNMENT_DIR, AlignmentChoice, StoreSettings

if TYPE_CHECKING:
    from mixsearch.engine import Engine


def refuse_existing(path: Path) -> None:
    """`create` needs an absent or empty directory: a store, a half-created one or anything else
    there is refused with what to do (before any document is read)."""
    from mixsearch.store.layout import StoreState, refuse_unless_absent, store_state

    state = store_state(path)
    if state is StoreState.COMMITTED:
        raise StoreExistsError(
            f"{path} already holds a store; open it with Engine.open to add to it"
        )
    if state is not StoreState.ABSENT:
        refuse_unless_absent(path, state)


def create_store(engine: Engine) -> None:
    from mixsearch.store import Store

    dim = engine._dim
    if dim is None:
        dim = engine.encoder.dim
    engine._dim = dim
    alignment = engine.alignment
    if engine._alignment_choice is None:
        engine._alignment_choice = AlignmentChoice.GIVEN if alignment else AlignmentChoice.NONE
    claim = claim_new_store(engine)
    from mixsearch.store.crashpoints import crash_point

    if alignment is not None:
        # Saved (and fsynced) first, committed second, in the one SQLite transaction that
        # creates the store: a crash in between leaves an uncommitted creation, never a store
        # whose manifest claims an alignment it does not apply.
        alignment.save(engine.path / ALIGNMENT_DIR)
        crash_point("alignment-saved")
    settings = StoreSettings(
        **encoder_settings(engine),
        alpha=engine.alpha,
        alignment_choice=engine._alignment_choice,
        alignment_origin=engine._alignment_origin or ("given" if alignment else "none"),
        alignment_fingerprint=alignment.fingerprint if alignment is not None else None,
        alignment_file=ALIGNMENT_DIR if alignment is not None else None,
        alignment_method=alignment.method if alignment is not None else None,
        index_spec=engine._index,
    )
    engine._store = Store.create(
        engine.path, dim=dim, index_spec=engine._index, extra=settings.to_extra(), claimed=claim
    )
    engine._claim = None  # the store holds it now, until `release_claim`


def create_store_now(engine: Engine) -> None:
    """Create the store outside `add` (an alignment given up front, or precomputed vectors)."""
    try:
        create_store(engine)
    except BaseException:
        abandon_creation(engine)
        raise
    finally:
        release_claim(engine)


def claim_new_store(engine: Engine) -> Any:
    if engine._claim is None:
        from mixsearch.store.crashpoints import crash_point
        from mixsearch.store.layout import claim_new_store as claim_directory

        engine._claim = claim_directory(engine.path)
        crash_point("claimed")
    return engine._claim


def release_claim(engine: Engine) -> None:
    if engine._claim is not None:
        engine._claim.close()
        engine._claim = None
    if engine._store is not None:
        engine._store.release_lock()


def abandon_creation(engine: Engine) -> None:
    """An `add` that failed before the store was committed leaves nothing behind."""
    if engine._claim is not None and engine._store is None:
        from mixsearch.store.layout import clear_interrupted_creation

        clear_interrupted_creation(engine.path)


def encoder_settings(engine: Engine) -> dict[str, Any]:
    """The encoder fields of the store's settings (none for a vector-only engine)."""
    if engine._encoder_spec is None and engine._encoder is None:
        return {}
    from mixsearch.encoders import fingerprint_id
    from mixsearch.encoders.factory import reopening_spec

    return {
        "encoder_spec": reopening_spec(engine._encoder_spec, engine.encoder),
        "encoder_fingerprint": fingerprint_id(engine.encoder),
        "encoder_fingerprint_detail": engine.encoder.fingerprint(),
    }
