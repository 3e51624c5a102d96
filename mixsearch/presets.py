"""Presets shipped inside the package (``mixsearch/configs/*.toml``), found by name.

``--config offline-default`` (or ``offline-default.toml``) means the preset installed with
mixsearch, so it works outside a checkout; a path to an existing file means that file.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PRESET_FOLDER = "configs"
SUFFIX = ".toml"


def preset_names() -> list[str]:
    """Names of the shipped presets, e.g. ``offline-default``."""
    folder = resources.files("mixsearch") / PRESET_FOLDER
    return sorted(
        entry.name.removesuffix(SUFFIX) for entry in folder.iterdir() if entry.name.endswith(SUFFIX)
    )


def config_path(value: str | os.PathLike[str]) -> Path:
    """A ``--config`` value as a file: an existing file as given, else the shipped preset of that
    name, else the value unchanged (reading it then reports the missing file)."""
    path = Path(value)
    if path.is_file():
        return path
    name = path.name.removesuffix(SUFFIX)
    if path.name == str(value) and name in preset_names():
        preset = resources.files("mixsearch") / PRESET_FOLDER / (name + SUFFIX)
        return Path(str(preset))  # a regular file: mixsearch is never imported from a zip
    return path
