"""The issue's reproduction, with the real encoder: `mixsearch index SOURCE --into NEW` stopped
(SIGKILL or Ctrl-C) once the alignment folder is written and before the store's commit, then run
again. The result must equal an uninterrupted build: same alignment, same vectors — never a store
that claims an alignment it does not apply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.engine import Engine
from mixsearch.store.crashpoints import ENV_AT, ENV_SIGNAL

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[2]
PAIRS = 55  # above the 50 image+text documents `--align auto` needs to fit


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skimage.data

    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(1)
    sources = [skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.coffee()]
    words = ["cat", "astronaut", "coffee"]
    for i in range(PAIRS):
        base = np.asarray(sources[i % 3])
        noisy = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"p{i:03d}.jpg", quality=80)
        (folder / f"p{i:03d}.txt").write_text(f"a photo of a {words[i % 3]}, number {i}")
    return folder


def _index(corpus: Path, store: Path, env: dict[str, str] | None = None):
    argv = [sys.executable, "-m", "mixsearch.cli.main", "index", str(corpus), "--into", str(store)]
    return subprocess.run(
        [*argv, "--json", "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=900,
    )


def _state(store: Path) -> tuple[str, dict[str, np.ndarray]]:
    with Engine.open(store, readonly=True) as engine:
        fingerprint = engine.store.manifest["extra"]["alignment_fingerprint"]
        ids = engine.store.all_ids()
        records = engine.store.records(ids)
        vectors = engine.store.vectors_for(ids)
    return fingerprint, {r.doc_id: v for r, v in zip(records, vectors, strict=True)}


def test_index_stopped_before_the_first_commit_then_rerun(corpus: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    done = _index(corpus, clean)
    assert done.returncode == 0, done.stderr
    assert "fitted on" in json.loads(done.stdout)["alignment"]
    want_fp, want = _state(clean)
    assert want_fp

    for sig in ("INT", "KILL"):
        store = tmp_path / f"stopped-{sig}"
        stopped = _index(corpus, store, {ENV_AT: "alignment-saved", ENV_SIGNAL: sig})
        if sig == "INT":
            assert stopped.returncode == 130 and stopped.stderr.strip() == "interrupted"
        else:
            assert stopped.returncode == -signal.SIGKILL
            # a half-made store is refused with the remedy, then repaired
            refused = _index(corpus, store)
            assert refused.returncode == 2 and refused.stderr.count("\n") == 1
            assert f"mixsearch verify {store} --repair" in refused.stderr
            fixed = subprocess.run(
                [sys.executable, "-m", "mixsearch.cli.main", "verify", str(store), "--repair"],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            assert "cleared the interrupted creation" in fixed.stdout, fixed.stdout + fixed.stderr
        rerun = _index(corpus, store)
        assert rerun.returncode == 0, rerun.stderr
        got_fp, got = _state(store)
        assert got_fp == want_fp
        assert set(got) == set(want)
        for doc_id, vector in want.items():
            np.testing.assert_allclose(got[doc_id], vector, atol=1e-5)
