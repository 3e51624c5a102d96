"""load_image / read_text_file against the awkward files real folders hold."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mixsearch.encoders.images import load_image, read_text_file
from mixsearch.errors import ItemLoadError


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb costs nothing to make."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def make_awkward_folder(folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """(good image files, bad image files) covering the cases the brief lists."""
    gradient = np.linspace(0, 255, 64 * 48 * 3).reshape(48, 64, 3).astype(np.uint8)
    photo = Image.fromarray(gradient)
    good: dict[str, Path] = {}
    good["plain"] = write(folder, "plain.jpg", jpeg_bytes(photo))
    good["cmyk"] = write(
        folder, "cmyk.jpg", jpeg_bytes(Image.new("CMYK", (40, 30), (0, 255, 255, 0)))
    )
    good["sixteen_bit"] = folder / "sixteen.png"
    ramp = np.tile(np.linspace(0, 65535, 50).astype(np.uint16), (20, 1))
    Image.fromarray(ramp).save(good["sixteen_bit"])
    good["palette_transparent"] = folder / "palette.png"
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (10, 0, 20, 20))
    palette.save(good["palette_transparent"], transparency=0)
    good["rgba"] = folder / "rgba.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(good["rgba"])
    good["la"] = folder / "la.png"
    Image.new("LA", (10, 10), (0, 0)).save(good["la"])
    good["exif_rotated"] = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    sideways = Image.new("RGB", (60, 40), (255, 0, 0))
    sideways.paste((0, 0, 255), (30, 0, 60, 40))
    sideways.save(good["exif_rotated"], exif=exif, quality=95)
    bad: dict[str, Path] = {}
    bad["zero_byte"] = write(folder, "empty.jpg", b"")
    bad["corrupt"] = write(folder, "corrupt.jpg", b"this is not an image at all" * 10)
    full = jpeg_bytes(photo.resize((256, 192)))
    bad["truncated"] = write(folder, "truncated.jpg", full[: len(full) // 2])
    bad["bomb"] = write(folder, "bomb.png", png_header_claiming(100_000, 100_000))
    bad["svg"] = write(folder, "drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    return good, bad


def cairosvg_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cairosvg") is not None


@pytest.fixture
def awkward(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    return make_awkward_folder(tmp_path)


def test_every_good_file_decodes_to_rgb(awkward):
    good, _ = awkward
    for name, path in good.items():
        image = load_image(path)
        assert image.mode == "RGB", name
        assert min(image.size) > 0, name


def test_cmyk_red_stays_red(awkward):
    pixel = np.asarray(load_image(awkward[0]["cmyk"]))[15, 20]
    assert pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60, pixel


def test_sixteen_bit_keeps_its_full_range(awkward):
    pixels = np.asarray(load_image(awkward[0]["sixteen_bit"]))
    assert pixels.min() <= 2 and pixels.max() >= 253


def test_transparency_is_composited_on_white(awkward):
    good = awkward[0]
    palette = np.asarray(load_image(good["palette_transparent"]))
    assert tuple(palette[5, 5]) == (255, 255, 255)  # transparent index → white
    assert tuple(palette[5, 15]) == (255, 0, 0)  # opaque red stays red
    assert tuple(np.asarray(load_image(good["rgba"]))[0, 0]) == (255, 255, 255)
    assert tuple(np.asarray(load_image(good["la"]))[0, 0]) == (255, 255, 255)


def test_exif_orientation_is_applied(awkward):
    image = load_image(awkward[0]["exif_rotated"])
    assert image.size == (40, 60)  # stored 60×40, displayed upright as 40×60
    pixels = np.asarray(image).astype(int)
    # Rotating 90° clockwise puts the stored left (red) half on top.
    assert pixels[5, 20, 0] > 200 and pixels[5, 20, 2] < 60
    assert pixels[55, 20, 2] > 200 and pixels[55, 20, 0] < 60


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("zero_byte", "empty file"),
        ("corrupt", "not a recognised image"),
        ("truncated", "truncated"),
        ("bomb", "decompression-bomb limit"),
        ("svg", "SVG is not rasterised; convert to PNG"),
    ],
)
def test_bad_files_raise_item_load_error_with_reason(awkward, name, reason):
    path = awkward[1][name]
    if name == "svg" and cairosvg_available():
        pytest.skip("cairosvg is installed, so SVG files are rasterised instead")
    with pytest.raises(ItemLoadError) as caught:
        load_image(path)
    assert caught.value.item == str(path)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.reason


def test_decompression_bomb_warning_is_an_error_too(tmp_path, monkeypatch):
    # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns; we refuse it as well.
    path = tmp_path / "biggish.png"
    Image.new("RGB", (40, 40)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ItemLoadError, match="40x40 = 1,600 pixels"):
        load_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ItemLoadError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ItemLoadError, match="is a directory"):
        load_image(tmp_path)


def test_draft_decoding_keeps_at_least_the_requested_size(tmp_path):
    path = tmp_path / "large.jpg"
    Image.new("RGB", (1600, 1200), (10, 200, 30)).save(path)
    image = load_image(path, draft_size=224)
    assert min(image.size) >= 224 and image.size[0] < 1600


def test_read_text_file_variants(tmp_path):
    plain = write(tmp_path, "plain.txt", "  a caption with café\n".encode())
    bom = write(tmp_path, "bom.txt", b"\xef\xbb\xbfwith a BOM")
    latin1 = write(tmp_path, "latin1.txt", "caf\xe9 au lait".encode("latin-1"))
    empty = write(tmp_path, "empty.txt", b"")
    blank = write(tmp_path, "blank.txt", b" \n\t ")
    assert read_text_file(plain) == "a caption with café"
    assert read_text_file(bom) == "with a BOM"
    with pytest.raises(ItemLoadError, match=r"not valid UTF-8: byte 0xe9 at offset 3"):
        read_text_file(latin1)
    with pytest.raises(ItemLoadError, match="empty text file"):
        read_text_file(empty)
    with pytest.raises(ItemLoadError, match="only whitespace"):
        read_text_file(blank)
    with pytest.raises(ItemLoadError, match="file not found"):
        read_text_file(tmp_path / "missing.txt")
