"""`mixsearch index / search / info / remove` end to end, through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.cli.main import main
from mixsearch.cli.store import parse_where
from mixsearch.errors import MixsearchError

pytestmark = pytest.mark.slow

COCO = Path(__file__).parents[2].parent / "shared" / "data" / "coco-mini"


def _bad_files(folder: Path) -> dict[str, str]:
    """One of each kind of broken file, and the word its reason must contain."""
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    good = folder / "photo_000.jpg"
    (folder / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (folder / "latin1.txt").write_bytes("d\xe9j\xe0 vu".encode("latin-1"))
    return {"zero.jpg": "empty", "corrupt.png": "", "truncated.jpg": "", "latin1.txt": "UTF-8"}


def _photo_folder(folder: Path, n: int) -> None:
    import skimage.data

    rng = np.random.default_rng(0)
    base = np.asarray(skimage.data.chelsea())
    for i in range(n):
        noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"photo_{i:03d}.jpg", quality=80)
        if i % 2 == 0:
            (folder / f"photo_{i:03d}.txt").write_text(f"a cat, picture {i}", encoding="utf-8")
    for i in range(n // 2):
        (folder / f"note_{i:03d}.txt").write_text(f"note number {i} about dogs", encoding="utf-8")


def test_bad_files_are_listed_and_good_ones_indexed(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _photo_folder(corpus, 50)  # 50 photos (25 captioned) + 25 notes = 75 good documents
    bad = _bad_files(corpus)  # 4 bad of 79 files: about 5%
    (corpus / "table.csv").write_text("a,b\n1,2\n")  # not a document, not an error either
    store = tmp_path / "store"

    status = main(["index", str(corpus), "--into", str(store), "--json", "--no-progress"])

    payload = json.loads(capsys.readouterr().out)
    assert status == 1
    assert payload["documents"] == 75
    reported = {Path(e["item"]).name: e["reason"] for e in payload["errors"]}
    assert set(reported) == set(bad)
    for name, word in bad.items():
        assert word.lower() in reported[name].lower()
    assert payload["ignored"] == ["table.csv"]


def test_index_summary_names_ignored_files() -> None:
    from mixsearch.cli.store import IGNORED_SHOWN, _render_index

    ignored = [f"extra{i}.csv" for i in range(IGNORED_SHOWN + 2)]
    summary = {"store": "s", "added": 1, "updated": 0, "unchanged": 0, "documents": 1}
    text = _render_index(
        summary | {"alignment": "none", "timings": {}, "errors": [], "ignored": ignored}
    )
    assert f"{len(ignored)} file(s) of other types ignored: extra0.csv" in text
    assert "and 2 more" in text and f"extra{IGNORED_SHOWN}.csv" not in text


# ---------------------------------------------------------------- stores built once per module
@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 photos (3 captioned) + 3 notes: 9 documents."""
    corpus = tmp_path_factory.mktemp("photos")
    _photo_folder(corpus, 6)
    return corpus


@pytest.fixture(scope="module")
def alignment_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 384 → 384 alignment (the offline encoder's dimension)."""
    from mixsearch.align import fit_alignment
    from mixsearch.align.synthetic import SyntheticSpaces

    source, target = SyntheticSpaces.create(384, rank=8, seed=4).sample(400, seed=1)
    out = tmp_path_factory.mktemp("alignment") / "al"
    fit_alignment(source, target, method="procrustes").save(out)
    return out


@pytest.fixture(scope="module")
def default_store(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Path:
    """Built with the defaults: offline-default, --index auto (Flat), --align auto (too few
    pairs: none), --alpha 0.5. Tests get a copy (`_copy`)."""
    store = tmp_path_factory.mktemp("default") / "store"
    assert main(["index", str(photos), "--into", str(store), "--no-progress", "--json"]) == 0
    return store


@pytest.fixture(scope="module")
def aligned_store(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, alignment_dir: Path
) -> Path:
    """Built with --align DIR --index Flat --alpha 0.3."""
    store = tmp_path_factory.mktemp("aligned") / "store"
    argv = ["index", str(photos), "--into", str(store), "--no-progress", "--json"]
    argv += ["--align", str(alignment_dir), "--index", "Flat", "--alpha", "0.3"]
    assert main(argv) == 0
    return store


def _copy(store: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(store, tmp_path / "store"))


def _documents(store: Path, capsys) -> int:
    capsys.readouterr()
    assert main(["info", str(store), "--json"]) == 0
    return int(json.loads(capsys.readouterr().out)["documents"])


def _one_line_error(capsys, prefix: str = "mixsearch index: error: ") -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(prefix), err
    assert "Traceback" not in err and "usage:" not in err
    return err


def test_search_info_remove_json(tmp_path: Path, default_store: Path, capsys) -> None:
    store = _copy(default_store, tmp_path)
    capsys.readouterr()

    assert main(["search", str(store), "a cat", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"][0]["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3]

    assert main(["info", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 9

    assert main(["remove", str(store), "note_000.txt", "nope", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"removed": 1, "missing": ["nope"]}


def test_user_errors_are_one_line_with_status_2(tmp_path: Path, capsys) -> None:
    assert main(["search", str(tmp_path / "missing"), "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a mixsearch store" in err
    assert main(["index", str(tmp_path / "nothing"), "--into", str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_parse_where() -> None:
    assert parse_where(["year>=2020", "year<2024", "kind=photo", "n=3"]) == {
        "year": {"gte": 2020, "lt": 2024},
        "kind": "photo",
        "n": 3,
    }
    assert parse_where(["score > 0.5", "score<=1", 'id="7"', "url=a=b"]) == {
        "score": {"gt": 0.5, "lte": 1},
        "id": "7",
        "url": "a=b",
    }


@pytest.mark.parametrize(
    "clause", ["year>>2020", "year!=2020", "year==2020", "year=<2020", "=3", "year=", "year"]
)
def test_malformed_where_is_a_one_line_error(tmp_path: Path, clause: str, capsys) -> None:
    with pytest.raises(MixsearchError, match="use key=value, key>=x, key<=x, key>x or key<x"):
        parse_where([clause])
    # Refused before the store is opened: this store does not even exist.
    assert main(["search", str(tmp_path / "nowhere"), "x", "--where", clause]) == 2
    err = _one_line_error(capsys, "mixsearch search: error: ")
    assert f"bad --where {clause!r}" in err


def test_where_forms_are_the_documented_ones(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "key=value, key>=x, key<=x, key>x or key<x" in help_text
    assert "key=value, key>=x, key<=x, key>x or key<x" in " ".join(readme.split())


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (
            ["search", "s", "x", "--modality", "video"],
            "mixsearch search: error: argument --modality",
        ),
        (["search", "s", "x", "--encoder", "x"], "mixsearch search: error: unrecognized arguments"),
        (["index", "src", "--into", "s", "--bogus"], "mixsearch index: error: unrecognized"),
        (["index", "src"], "mixsearch index: error: the following arguments are required"),
        (["serch"], "mixsearch: error: argument COMMAND: invalid choice"),
        (["align", "fit", "--source", "a"], "mixsearch align fit: error: the following"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(argv: list[str], prefix: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = _one_line_error(capsys, prefix)
    assert "--help" in err


def test_help_still_prints_the_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mixsearch search") and "--modality" in out


# ---------------------------------------------------------------- index into an existing store
@pytest.mark.parametrize(
    ("which", "flags", "words"),
    [
        ("default", ["--alpha", "0.3"], ["alpha 0.5", "--alpha asks for 0.3"]),
        (
            "default",
            ["--index", "HNSW32"],
            ["index 'auto' (now Flat)", "--index asks for 'HNSW32'"],
        ),
        ("default", ["--align", "ALIGNMENT"], ["alignment none: 3 image+text", "--align asks"]),
        ("aligned", ["--align", "auto"], ["procrustes (given", "--align asks for auto"]),
        ("aligned", ["--align", "none"], ["procrustes (given", "--align asks for none"]),
        ("aligned", ["--index", "auto"], ["index 'Flat'", "--index asks for 'auto'"]),
    ],
)
def test_index_into_existing_store_refuses_differing_settings(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    alignment_dir: Path,
    which: str,
    flags: list[str],
    words: list[str],
    capsys,
) -> None:
    store = _copy(request.getfixturevalue(f"{which}_store"), tmp_path)
    new = tmp_path / "new"
    new.mkdir()
    (new / "birds.txt").write_text("a flock of birds", encoding="utf-8")
    flags = [str(alignment_dir) if f == "ALIGNMENT" else f for f in flags]
    capsys.readouterr()

    assert main(["index", str(new), "--into", str(store), "--no-progress", *flags]) == 2

    err = _one_line_error(capsys)
    for word in [*words, "index into a new store", f"drop {flags[0]}"]:
        assert word in err
    assert _documents(store, capsys) == 9  # nothing was added


def test_index_refuses_another_encoder_before_reading_documents(
    tmp_path: Path, default_store: Path, capsys
) -> None:
    store = _copy(default_store, tmp_path)
    capsys.readouterr()
    # The source does not exist: the encoder must be refused before the corpus is even read.
    argv = ["index", str(tmp_path / "no-such-corpus"), "--into", str(store), "--no-progress"]

    assert main([*argv, "--encoder", "minilm-l6"]) == 2

    err = _one_line_error(capsys)
    assert "was built with encoder 'offline-default'" in err
    assert "--encoder 'minilm-l6' has fingerprint" in err
    assert "index into a new store" in err and "drop --encoder" in err


def test_index_with_equal_settings_adds_quietly(
    tmp_path: Path, default_store: Path, capsys
) -> None:
    store = _copy(default_store, tmp_path)
    new = tmp_path / "new"
    new.mkdir()
    (new / "birds.txt").write_text("a flock of birds", encoding="utf-8")
    capsys.readouterr()
    flags = ["--encoder", "offline-default", "--index", "auto", "--align", "auto"]

    assert (
        main(["index", str(new), "--into", str(store), "--no-progress", *flags, "--alpha", "0.5"])
        == 0
    )

    captured = capsys.readouterr()
    assert captured.err == ""
    assert "1 added" in captured.out
    assert _documents(store, capsys) == 10


def test_reindexing_prints_the_stores_alignment(
    tmp_path: Path, aligned_store: Path, photos: Path, alignment_dir: Path, capsys
) -> None:
    store = _copy(aligned_store, tmp_path)
    capsys.readouterr()
    argv = ["index", str(photos), "--into", str(store), "--no-progress"]

    # Same documents, same settings as given at creation: nothing to encode, no complaint.
    assert main([*argv, "--align", str(alignment_dir), "--index", "Flat", "--alpha", "0.3"]) == 0

    captured = capsys.readouterr()
    assert captured.err == ""
    assert "9 unchanged" in captured.out
    assert "alignment: procrustes (given)" in captured.out.splitlines()


def test_invalid_index_spec_is_refused_before_reading_documents(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    # The source does not exist: the spec must be refused before the corpus is even read.
    argv = ["index", str(tmp_path / "no-such-corpus"), "--into", str(store), "--index", "NOTASPEC"]

    assert main(argv) == 2

    err = _one_line_error(capsys)
    assert err == (
        "mixsearch index: error: invalid index spec 'NOTASPEC': not a FAISS factory string "
        "(e.g. Flat, HNSW32, IVF4096,PQ64) or auto\n"
    )
    assert not store.exists()


def test_compact_refuses_an_invalid_index_spec(tmp_path: Path, default_store: Path, capsys) -> None:
    store = _copy(default_store, tmp_path)
    capsys.readouterr()

    assert main(["compact", str(store), "--index", "NOTASPEC"]) == 2

    err = _one_line_error(capsys, "mixsearch compact: error: ")
    assert "invalid index spec 'NOTASPEC'" in err and "faiss::" not in err


# ---------------------------------------------------------------- info / tune: text or --json
def test_info_and_tune_print_text_by_default_and_json_with_flag(
    tmp_path: Path, default_store: Path, capsys
) -> None:
    store = _copy(default_store, tmp_path)
    assert main(["compact", str(store), "--index", "HNSW32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["index_spec_resolved"] == "HNSW32"

    assert main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    lines = text.splitlines()
    assert lines[1].split(":", 1)[0] == "documents"
    assert lines[1].split(":", 1)[1].strip() == "9 (3 text, 3 image, 3 image+text)"
    assert any(ln.startswith("encoder:") and "'offline-default'" in ln for ln in lines)
    assert any(ln.startswith("index:") and "HNSW32" in ln for ln in lines)
    assert main(["info", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["index_spec"] == "HNSW32"

    assert main(["tune", str(store), "--target-recall", "0.9"]) == 0
    text = capsys.readouterr().out
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert text.startswith("search params:") and "efSearch=" in text
    assert "recall@10:" in text
    assert "lower bound" in text and "at 95% confidence; aim 0.9500)" in text  # held-out aim
    assert main(["tune", str(store), "--target-recall", "0.9", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert "efSearch" in tuned["params"] and tuned["bound"] >= tuned["aim"]


@pytest.mark.skipif(not COCO.is_dir(), reason="../shared/data/coco-mini is not present")
def test_coco_mini_folder_query_returns_every_modality(tmp_path: Path, capsys) -> None:
    import importlib.util

    path = Path(__file__).parents[2] / "scripts" / "build_coco_folder.py"
    spec = importlib.util.spec_from_file_location("build_coco_folder", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.main(["--src", str(COCO), "--out", str(tmp_path / "coco"), "--limit", "90"]) == 0
    store = tmp_path / "store"
    assert main(["index", str(tmp_path / "coco"), "--into", str(store), "--no-progress"]) == 0
    capsys.readouterr()

    assert main(["search", str(store), "a man riding a horse", "-k", "15", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"][0]["hits"]
    assert {h["modality"] for h in hits} == {"text", "image", "image+text"}


def test_damaged_store_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    from mixsearch.store import Store

    store = tmp_path / "store"
    Store.create(store, dim=4, index_spec="Flat").close()
    (store / "store.sqlite").write_bytes(b"not a database" * 100)

    status = main(["info", str(store)])

    err = capsys.readouterr().err.strip()
    assert status == 2
    assert "\n" not in err and "store.sqlite" in err and "Traceback" not in err
