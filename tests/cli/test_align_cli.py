"""`mixsearch align fit / apply / report` end to end through `main()`, with real files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mixsearch.align import Alignment
from mixsearch.align.synthetic import SyntheticSpaces
from mixsearch.cli.main import main


@pytest.fixture
def files(tmp_path):
    source, target = SyntheticSpaces.create(32, rank=8, seed=4).sample(400, seed=1)
    np.save(tmp_path / "s.npy", source)
    np.save(tmp_path / "t.npy", target)
    np.save(tmp_path / "q.npy", target[:50] + 0.1)
    return tmp_path


def _run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_fit_apply_report_round_trip(files, capsys) -> None:
    out = files / "al"
    fit = _run_json(
        capsys,
        [
            "align",
            "fit",
            "--source",
            str(files / "s.npy"),
            "--target",
            str(files / "t.npy"),
            "--query",
            str(files / "q.npy"),
            "--method",
            "auto",
            "--out",
            str(out),
            "--folds",
            "3",
            "--json",
        ],
    )
    alignment = Alignment.load(out)
    assert fit["fingerprint"] == alignment.fingerprint and fit["n_pairs"] == 400

    applied = _run_json(
        capsys,
        [
            "align",
            "apply",
            str(out),
            "--input",
            str(files / "s.npy"),
            "--side",
            "source",
            "--output",
            str(files / "m.npy"),
            "--json",
        ],
    )
    assert applied["rows"] == 400
    mapped = np.load(files / "m.npy", allow_pickle=False)
    expected = alignment.transform(np.load(files / "s.npy"), "source")
    np.testing.assert_allclose(mapped, expected, atol=1e-6)

    report = _run_json(
        capsys,
        [
            "align",
            "report",
            "--source",
            str(files / "s.npy"),
            "--target",
            str(files / "t.npy"),
            "--align",
            str(out),
            "--json",
        ],
    )
    assert report["alignment"]["fingerprint"] == alignment.fingerprint
    assert report["residual_procrustes"] <= report["bound"]
    assert report["cv"]["chosen"] in report["cv"]["by_lambda"]

    argv = ["align", "report", "--source", str(files / "s.npy"), "--target", str(files / "t.npy")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "held-out" in text and "chosen lambda" in text and "by mixed" in text


def test_objective_and_fused_flags_reach_the_fit(files, capsys) -> None:
    base = ["align", "fit", "--source", str(files / "s.npy"), "--target", str(files / "t.npy")]
    pairs = _run_json(capsys, [*base, "--out", str(files / "p"), "--objective", "pairs", "--json"])
    assert pairs["extra"]["cv"]["objective"] == "pairs"
    bare = _run_json(capsys, [*base, "--out", str(files / "b"), "--no-fused", "--json"])
    assert bare["extra"]["cv"]["alpha"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "align",
                "fit",
                "--source",
                "{d}/missing.npy",
                "--target",
                "{d}/t.npy",
                "--out",
                "{d}/x",
            ],
            "source: file not found",
        ),
        (
            [
                "align",
                "fit",
                "--source",
                "{d}/s.npy",
                "--target",
                "{d}/short.npy",
                "--out",
                "{d}/x",
            ],
            "source has 400 rows but target has 10",
        ),
        (
            ["align", "fit", "--source", "{d}/nan.npy", "--target", "{d}/t.npy", "--out", "{d}/x"],
            "source: 2 row(s) (3, 9) hold NaN or inf",
        ),
        (
            [
                "align",
                "fit",
                "--source",
                "{d}/short.npy",
                "--target",
                "{d}/short.npy",
                "--out",
                "{d}/x",
                "--folds",
                "20",
            ],
            "10 pairs are fewer than the 20 cross-validation folds",
        ),
        (
            [
                "align",
                "apply",
                "{d}/al",
                "--input",
                "{d}/s.npy",
                "--side",
                "image",
                "--output",
                "{d}/o.npy",
            ],
            "unknown side 'image'",
        ),
    ],
)
def test_errors_are_one_line_with_status_2(files, capsys, argv, message) -> None:
    source = np.load(files / "s.npy")
    np.save(files / "short.npy", source[:10])
    bad = source.copy()
    bad[[3, 9]] = np.nan
    np.save(files / "nan.npy", bad)
    assert main([a.format(d=files) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
