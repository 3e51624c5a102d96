"""tests/conftest.py: every pytest run (xdist workers included) gets one temporary embedding cache
folder, and removes it when the run ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

PROBE = """
import os
from pathlib import Path


def test_cache_folder_is_set_and_writable(tmp_path):
    cache = Path(os.environ["MIXSEARCH_CACHE_DIR"])
    assert cache.is_dir()
    (cache / f"entry-{os.getpid()}").write_text("cached")
    seen = Path(os.environ["PROBE_LOG"])
    with seen.open("a") as f:
        f.write(f"{cache}\\n")


def test_second(tmp_path):
    test_cache_folder_is_set_and_writable(tmp_path)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_run_removes_its_cache_folder(tmp_path: Path, workers: list[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(CONFTEST, project / "conftest.py")  # the real file, in a run of its own
    (project / "test_probe.py").write_text(PROBE, encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MIXSEARCH_"))}
    env.update(TMPDIR=str(temp), PROBE_LOG=str(tmp_path / "seen.txt"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    seen = set((tmp_path / "seen.txt").read_text().split())
    assert len(seen) == 1, f"processes of one run used different cache folders: {seen}"
    (cache,) = seen
    assert Path(cache).parent == temp and Path(cache).name.startswith("mixsearch-test-cache-")
    assert list(temp.glob("mixsearch-test-cache-*")) == [], "cache folder left behind"
