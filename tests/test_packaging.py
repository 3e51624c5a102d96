"""Packaging: presets found by name inside the installed package (not the checkout), and the
wheel carries the presets, py.typed, the LICENSE, the SPDX licence and the one version."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mixsearch
from mixsearch.encoders import load_encoder_config
from mixsearch.presets import config_path, preset_names

PACKAGE_DIR = Path(mixsearch.__file__).resolve().parent
REPO = Path(__file__).resolve().parents[1]


def test_presets_resolve_inside_the_package_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing relative to a checkout
    assert {"offline-default", "openclip-vit-b-32", "openclip-vit-l-14"} <= set(preset_names())
    for given in ("offline-default", "offline-default.toml"):
        path = config_path(given)
        assert path.resolve().parent == PACKAGE_DIR / "configs"
        assert path.is_file()
    assert load_encoder_config("offline-default")["name"] == "offline-default"


def test_an_existing_file_beats_a_preset_name(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "offline-default.toml").write_text('[encoder]\nname = "minilm-l6"\n')
    assert config_path("offline-default.toml") == Path("offline-default.toml")
    assert config_path("no-such-preset") == Path("no-such-preset")  # reported when read
    assert config_path("sub/offline-default") == Path("sub/offline-default")  # a path, not a name


@pytest.mark.slow
def test_wheel_ships_presets_typing_marker_licence_and_version(tmp_path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "mixsearch", source / "mixsearch", ignore=shutil.ignore_patterns("__pycache__")
    )
    build = "from setuptools import build_meta as b; print(b.build_wheel('dist'))"
    done = subprocess.run(
        [sys.executable, "-c", build], cwd=source, capture_output=True, text=True, check=True
    )
    wheel = source / "dist" / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"mixsearch-{mixsearch.__version__}.dist-info"
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    for preset in preset_names():
        assert f"mixsearch/configs/{preset}.toml" in names
    assert "mixsearch/py.typed" in names
    assert any(  # the offline default's class-prompt embeddings: never computed on a new machine
        n.startswith("mixsearch/encoders/class_prompts/class-prompts-") and n.endswith(".npy")
        for n in names
    )
    assert f"{dist_info}/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert f"Version: {mixsearch.__version__}" in metadata.splitlines()
    # the optional C extensions (setup.py): built wherever a C compiler is, as here
    for module in ("mixsearch/store/_hit_table", "mixsearch/_search_arrays"):
        assert f"{module}.pyi" in names and f"{module}.c" in names
        if shutil.which("cc") or shutil.which("gcc"):
            assert any(n.startswith(f"{module}.") and n.endswith((".so", ".pyd")) for n in names)


def test_cli_config_takes_a_preset_name(tmp_path, monkeypatch) -> None:
    from mixsearch.cli.main import build_parser

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["index", "docs", "--into", "s", "--config", "offline-default"]
    )
    assert args.config.resolve() == PACKAGE_DIR / "configs" / "offline-default.toml"
