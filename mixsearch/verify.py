"""`mixsearch verify STORE [--repair]`: is the store sound, and if not, make it usable again.

Checked: the directory's state (a store, an interrupted creation, neither), the SQLite document
table (`PRAGMA quick_check`, counts), the vector file against its checksums, the index file against its commit
record and against the table (ids, counts, sampled vectors), the alignment folder against the
fingerprint committed in SQLite, and manifest.json against the committed meta.

Repairs never lose a committed document, because SQLite holds every committed row and the vector
file every vector: a damaged, foreign, truncated or missing index is rebuilt from them (a new
generation),
a missing or stale manifest is rewritten, and an interrupted creation — which by construction
committed nothing — is cleared. What cannot be rebuilt (a damaged alignment, a lost document
table, vector rows that differ from their checksums: the vector file is their one copy) is
reported with what to do instead — for vectors, the documents affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixsearch.errors import MixsearchError
from mixsearch.store import layout
from mixsearch.store.layout import StoreState


@dataclass
class VerifyReport:
    path: str
    state: str
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    documents: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "state": self.state,
            "documents": self.documents,
            "problems": self.problems,
            "repaired": self.repaired,
            "notes": self.notes,
        }


def verify(path: str | Path, *, repair: bool = False) -> VerifyReport:
    """Check the store at ``path``; with ``repair``, fix what can be fixed, then check again."""
    path = Path(path)
    report = _check(path)
    if repair and not report.ok:
        done = _repair(path, report)
        report = _check(path)
        report.repaired = done
    return report


# ---- checking ---------------------------------------------------------------------------------


def _check(path: Path) -> VerifyReport:
    state = layout.store_state(path)
    report = VerifyReport(str(path), state.value)
    if state is StoreState.ABSENT:
        report.problems.append("no store here (the directory is missing or empty)")
    elif state is StoreState.FOREIGN:
        report.problems.append("not a mixsearch store (it holds files a store does not)")
    elif state is StoreState.DAMAGED:
        report.problems.append(layout.damaged_message(path).split(": ", 1)[1])
    elif state is StoreState.INTERRUPTED and layout.lock_is_held(path):
        report.problems.append("another process is creating this store; check it when done")
    elif state is StoreState.INTERRUPTED:
        report.problems.append(
            "a store creation was interrupted here and committed nothing (--repair clears it)"
        )
    else:
        _check_committed(path, report)
    return report


def _check_committed(path: Path, report: VerifyReport) -> None:
    from mixsearch.store import Store, StoreError
    from mixsearch.store.store import StoreDamagedError

    try:
        store = Store.open(path, readonly=True)
    except StoreDamagedError as err:
        report.problems.append(_without_remedy(err, path))
        return
    except (StoreError, OSError) as err:
        report.problems.append(_without_path(err, path))
        return
    with store:
        integrity = store.check_integrity()
        report.documents = len(store)
        report.problems += integrity.problems
        report.notes += integrity.notes
        manifest = store.manifest
        _check_manifest(path, manifest, report)
        _check_alignment(path, manifest.get("extra", {}), report)
    if (path / layout.CREATING_NAME).exists():
        report.notes.append("a creation marker is left over (removed by the next writer)")


def _check_manifest(path: Path, committed: dict[str, Any], report: VerifyReport) -> None:
    file = path / layout.MANIFEST_NAME
    if not file.is_file():
        report.problems.append(f"{layout.MANIFEST_NAME} is missing (--repair rewrites it)")
        return
    try:
        mirror = json.loads(file.read_text())
    except (OSError, ValueError):
        report.problems.append(f"{layout.MANIFEST_NAME} is unreadable (--repair rewrites it)")
        return
    if mirror.get("generation") != committed["generation"]:
        report.problems.append(
            f"{layout.MANIFEST_NAME} shows generation {mirror.get('generation')}, the committed "
            f"one is {committed['generation']} (--repair rewrites it)"
        )


def _check_alignment(path: Path, extra: dict[str, Any], report: VerifyReport) -> None:
    expected = extra.get("alignment_fingerprint")
    if not expected:
        return
    from mixsearch.align import Alignment

    folder = path / extra.get("alignment_file", layout.ALIGNMENT_DIR)
    try:
        found = Alignment.load(folder).fingerprint
    except MixsearchError as err:
        report.problems.append(f"alignment folder unusable: {_without_path(err, folder)}")
        return
    if found != expected:
        report.problems.append(
            f"alignment folder has fingerprint {found}, the store committed {expected}"
        )


# ---- repairing --------------------------------------------------------------------------------


def _repair(path: Path, report: VerifyReport) -> list[str]:
    state = StoreState(report.state)
    if state is StoreState.INTERRUPTED:
        return [] if layout.lock_is_held(path) else _clear_creation(path)
    if state is not StoreState.COMMITTED:
        return []
    manifest_problem = any(layout.MANIFEST_NAME in problem for problem in report.problems)
    return _repair_committed(path, manifest_problem)


def _clear_creation(path: Path) -> list[str]:
    lock = layout.claim_lock(path)  # refuses while a creator is still at work
    try:
        if layout.store_state(path) is not StoreState.INTERRUPTED:
            return []
        removed = layout.clear_interrupted_creation(path)
    finally:
        lock.close()
    return [f"cleared the interrupted creation (removed {', '.join(removed) or 'nothing'})"]


def _repair_committed(path: Path, manifest_problem: bool) -> list[str]:
    from mixsearch.store import Store
    from mixsearch.store.damage import VectorsDamagedError
    from mixsearch.store.store import StoreDamagedError

    done: list[str] = []
    try:
        store = Store.open(path)  # a writer: folds in the WAL, cleans stale files
        integrity = store.check_integrity()
        if integrity.vectors_damaged:  # a rebuild would index the damaged vectors
            store.close()
            return done
        needs_rebuild = not integrity.ok
    except VectorsDamagedError:
        return done
    except StoreDamagedError:
        try:
            store = Store.open(path, load_index=False)
        except VectorsDamagedError:
            return done
        needs_rebuild = True
    with store:
        if needs_rebuild:
            store.rebuild()
            done.append(
                f"rebuilt the index from the {len(store)} committed documents "
                f"(generation {store.generation})"
            )
        store.write_manifest()
        if manifest_problem:
            done.append(f"rewrote {layout.MANIFEST_NAME} from the committed state")
    return done


def _without_path(err: BaseException, path: Path) -> str:
    text = " ".join(str(err).split())
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _without_remedy(err: BaseException, path: Path) -> str:
    text = _without_path(err, path)
    return text.split("; run `mixsearch verify", 1)[0] + " (--repair rebuilds it)"
