"""Fetch and unpack Debian packages as data sources, without root: ``apt-get download`` + ``dpkg -x``.

The .deb files are cached in ``~/.cache/mixsearch/debs`` and each package is unpacked once into
``~/.cache/mixsearch/debian-root/<package>``; a later build reuses both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CACHE = Path.home() / ".cache" / "mixsearch"


def unpacked_package(package: str, cache: Path = CACHE) -> Path:
    """The root folder a package is unpacked in (``ROOT/usr/share/...``), fetching it if needed."""
    root = cache / "debian-root" / package
    done = root / ".unpacked"
    if done.is_file():
        return root
    deb = _cached_deb(package, cache / "debs")
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    done.write_text(deb.name + "\n", encoding="utf-8")
    return root


def _cached_deb(package: str, debs: Path) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        result = subprocess.run(
            ["apt-get", "download", package], cwd=debs, capture_output=True, text=True
        )
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            detail = " ".join((result.stderr or result.stdout).split())[-300:]
            raise RuntimeError(f"apt-get download {package} failed: {detail}")
    return found[-1]
