"""`mixsearch index` settings: where each comes from, and whether an existing store agrees.

Command-line flags win over a TOML preset's ``[encoder]`` and ``[engine]`` tables, which win over
the defaults. Adding to an existing store with a setting that differs from the one it was built
with is refused before any document is read: its vectors must stay in one space, and nothing is
re-embedded behind the user's back.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from mixsearch.errors import MixsearchError
from mixsearch.settings import (
    DEFAULT_ALIGN,
    DEFAULT_ALPHA,
    DEFAULT_ENCODER,
    DEFAULT_INDEX,
    StoreSettings,
    describe_encoder_spec,
)


def index_settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings to index with — command-line flags win over the TOML preset ([encoder] and
    [engine] tables), which wins over the defaults — and, for each setting the user gave, the
    flag that gave it (for messages)."""
    settings: dict[str, Any] = {
        "encoder": DEFAULT_ENCODER,
        "index": DEFAULT_INDEX,
        "align": DEFAULT_ALIGN,
        "alpha": DEFAULT_ALPHA,
    }
    given: dict[str, str] = {}
    if args.config is not None:
        from mixsearch.encoders import load_encoder_config

        settings["encoder"] = load_encoder_config(args.config)
        given["encoder"] = f"--config {args.config}"
        engine_table = _engine_table(args.config)
        for key in ("index", "align", "alpha"):
            if key in engine_table:
                settings[key] = engine_table[key]
                given[key] = f"--config {args.config} ([engine] {key})"
    if args.encoder:
        settings["encoder"] = args.encoder
        given["encoder"] = "--encoder"
    for key in ("index", "align", "alpha"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
            given[key] = f"--{key}"
    if not isinstance(settings["alpha"], int | float) or isinstance(settings["alpha"], bool):
        raise MixsearchError(f"{given['alpha']}: alpha must be a number, got {settings['alpha']!r}")
    settings["alpha"] = float(settings["alpha"])
    for key in ("index", "align"):
        if not isinstance(settings[key], str):
            raise MixsearchError(f"{given[key]}: {key} must be a string, got {settings[key]!r}")
    return settings, given


def _engine_table(path: Path) -> dict[str, Any]:
    """The optional [engine] table of a preset (index, align, alpha)."""
    import tomllib

    with open(path, "rb") as handle:  # load_encoder_config has read and checked it already
        table = tomllib.load(handle).get("engine", {})
    if not isinstance(table, dict):
        raise MixsearchError(f"{path}: [engine] must be a table")
    unknown = sorted(set(table) - {"index", "align", "alpha"})
    if unknown:
        raise MixsearchError(
            f"{path}: unknown [engine] keys {unknown}; allowed: index, align, alpha"
        )
    return table


def check_new_settings(settings: dict[str, Any]) -> None:
    """What can be refused before a new store reads its corpus."""
    from mixsearch.store.index_spec import validate_spec

    validate_spec(settings["index"])
    if not 0.0 <= settings["alpha"] <= 1.0:
        raise MixsearchError(f"alpha must lie in [0, 1], got {settings['alpha']}")
    align = settings["align"]
    if align not in ("auto", "none", "") and not Path(align).is_dir():
        raise MixsearchError(f"alignment folder {align} does not exist")


def open_for_adding(
    args: argparse.Namespace, settings: dict[str, Any], given: dict[str, str]
) -> Any:
    """Open an existing store to add to it; a setting the user gave that differs from the one
    the store was built with is refused (vectors must share one space; nothing is re-embedded)."""
    from mixsearch.engine import Engine

    encoder = settings["encoder"] if "encoder" in given else None  # loaded lazily, below
    engine = Engine.open(args.into, encoder=encoder, device=args.device)
    try:
        built = engine.settings
        if "index" in given:
            from mixsearch.store.index_spec import validate_spec

            validate_spec(settings["index"], engine.store.dim)
        for key, what, check in (
            ("index", "index", _index_differs),
            ("alpha", "alpha", _alpha_differs),
            ("align", "alignment", _align_differs),
        ):
            if key in given:
                differs = check(settings[key], built)
                if differs is not None:
                    raise MixsearchError(_differs_message(args.into, given[key], what, *differs))
        if "encoder" not in given:
            return engine
        if not built.encoder_fingerprint:
            raise MixsearchError(
                _differs_message(
                    args.into,
                    given["encoder"],
                    "encoder",
                    "none (vector-only store)",
                    describe_encoder_spec(settings["encoder"]),
                )
            )
        flag = given["encoder"]
        engine.check_encoder(
            given=f"{flag} {describe_encoder_spec(settings['encoder'])}",
            remedy=f"index into a new store (--into NEW_STORE), or drop {flag.split()[0]} "
            "to add with the store's encoder",
        )
        return engine
    except BaseException:
        engine.close()
        raise


def _differs_message(store: Path, flag: str, what: str, built: str, wanted: str) -> str:
    option = flag.split()[0]
    hint = (
        f"; `mixsearch compact {store} --index SPEC` switches an existing store's index"
        if what == "index"
        else ""
    )
    return (
        f"{store} was built with {what} {built}, but {flag} asks for {wanted}: index into a new "
        f"store (--into NEW_STORE), or drop {option} to add with the store's settings{hint}"
    )


def _index_differs(spec: str, built: StoreSettings) -> tuple[str, str] | None:
    from mixsearch.store.index_spec import is_auto

    same = (is_auto(built.index_spec) and is_auto(spec)) or built.index_spec.strip() == spec.strip()
    if same:
        return None
    resolved = built.index_spec_resolved
    shown = f"{built.index_spec!r}" + (
        f" (now {resolved})" if resolved and resolved != built.index_spec else ""
    )
    return shown, repr(spec)


def _alpha_differs(alpha: float, built: StoreSettings) -> tuple[str, str] | None:
    if math.isclose(alpha, built.alpha, abs_tol=1e-12):
        return None
    return f"{built.alpha:g}", f"{alpha:g}"


def _align_differs(align: str, built: StoreSettings) -> tuple[str, str] | None:
    fingerprint = built.alignment_fingerprint
    label = built.alignment_label
    if fingerprint:
        label += f", fingerprint {fingerprint}"
    if align == "auto":
        return None if built.alignment_choice.is_auto else (label, "auto")
    if align in ("none", ""):
        return None if not fingerprint else (label, "none")
    from mixsearch.align import Alignment

    folder = Path(align)
    if not folder.is_dir():
        raise MixsearchError(f"alignment folder {folder} does not exist")
    wanted = Alignment.load(folder).fingerprint
    if wanted == fingerprint:
        return None
    return label, f"{str(folder)!r} (fingerprint {wanted})"
