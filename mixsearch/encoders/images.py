"""Reading images and text files from real folders, with one clear reason per bad file.

``load_image`` always returns an RGB ``PIL.Image``:

* EXIF orientation is applied (phone photos stored sideways come out upright);
* palette, RGBA, LA and palette+transparency images are composited on white (transparent
  backgrounds would otherwise turn black), CMYK and 16-bit / 32-bit greyscale are converted;
* SVG files are rasterised only when the optional ``cairosvg`` package is importable
  (``pip install mixsearch[svg]``); otherwise they are reported as
  "SVG is not rasterised; convert to PNG";
* zero-byte, truncated, corrupt and unrecognised files, and decompression bombs (more pixels
  than ``PIL.Image.MAX_IMAGE_PIXELS``; the warning Pillow gives below twice that limit is treated
  as an error too) raise ``ItemLoadError(path, reason)``.

``read_text_file`` reads UTF-8 (a BOM is accepted) and names the byte offset of the first
undecodable byte. Both functions raise ``ItemLoadError`` so callers can record the item and go on.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mixsearch.errors import ItemLoadError

PathLike = str | os.PathLike[str]

_WHITE = (255, 255, 255)
_SVG_SUFFIXES = {".svg", ".svgz"}


def load_image(
    path: PathLike, *, data: bytes | None = None, draft_size: int | None = None
) -> Image.Image:
    """Decode ``path`` to an RGB image or raise ``ItemLoadError`` with a short reason.

    ``data``: the file's bytes when the caller already read them (the pipeline hashes them for
    the cache first); ``path`` then only names the item and gives the suffix.
    ``draft_size`` lets JPEG files decode at a reduced DCT scale whose sides are still at least
    ``draft_size`` pixels — several times faster for models that downscale to ~224 px anyway.
    """
    data_path = Path(path)
    if data is None:
        _check_readable_file(data_path)
    elif not data:
        raise ItemLoadError(str(path), "empty file (0 bytes)")
    if data_path.suffix.lower() in _SVG_SUFFIXES:
        return _rasterise_svg(data_path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open_and_decode(data_path, data, draft_size)
    try:
        return to_rgb(_upright(image))
    except (ValueError, OSError) as err:  # e.g. a colour mode Pillow cannot convert
        raise ItemLoadError(str(path), f"unsupported colour mode {image.mode} ({err})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_bit_depth_to_rgb(image)
    has_transparency_key = mode in ("P", "L") and "transparency" in image.info
    if has_transparency_key or mode in ("PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, _WHITE)
        background.paste(image.convert("RGBA"), mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def read_text_file(path: PathLike) -> str:
    """UTF-8 text of ``path`` (BOM allowed), stripped of surrounding whitespace."""
    data_path = Path(path)
    data = read_file_bytes(data_path)
    if not data:
        raise ItemLoadError(str(path), "empty text file (0 bytes)")
    bom = b"\xef\xbb\xbf"
    offset = len(bom) if data.startswith(bom) else 0
    try:
        text = data[offset:].decode("utf-8")
    except UnicodeDecodeError as err:
        bad = data[offset + err.start]
        raise ItemLoadError(
            str(path), f"not valid UTF-8: byte 0x{bad:02x} at offset {offset + err.start}"
        ) from None
    text = text.strip()
    if not text:
        raise ItemLoadError(str(path), "text file holds only whitespace")
    return text


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise ItemLoadError(str(path), "file not found")
    if path.is_dir():
        raise ItemLoadError(str(path), "is a directory, not an image file")
    if path.stat().st_size == 0:
        raise ItemLoadError(str(path), "empty file (0 bytes)")


def read_file_bytes(path: PathLike) -> bytes:
    """The bytes of a file, or ItemLoadError naming why they cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ItemLoadError(str(path), "file not found") from None
    except IsADirectoryError:
        raise ItemLoadError(str(path), "is a directory, not a file") from None
    except PermissionError:
        raise ItemLoadError(str(path), "permission denied") from None


def _open_and_decode(path: Path, data: bytes | None, draft_size: int | None) -> Image.Image:
    try:
        image = Image.open(path if data is None else io.BytesIO(data))
        if draft_size and image.format == "JPEG":
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ItemLoadError(str(path), _bomb_reason(path, data)) from None
    except UnidentifiedImageError:
        raise ItemLoadError(
            str(path), "not a recognised image format (or corrupt header)"
        ) from None
    except PermissionError:
        raise ItemLoadError(str(path), "permission denied") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ItemLoadError(str(path), f"corrupt or truncated image data ({err})") from None


def _bomb_reason(path: Path, data: bytes | None) -> str:
    """Name the claimed size without decoding it (reading the header is cheap)."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                width, height = Image.open(path if data is None else io.BytesIO(data)).size
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        size = f"{width}x{height} = {width * height:,} pixels"
    except Exception:  # header unreadable: the limit alone still explains the refusal
        size = "too many pixels"
    return f"image too large ({size}; decompression-bomb limit is {limit:,} pixels)"


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a malformed EXIF block leaves the image as stored."""
    try:
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of upright images
        return image
    except Exception:  # broken EXIF must not cost the whole image
        return image


def _high_bit_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16/32-bit integer and float greyscale → 8-bit RGB, keeping the full dynamic range."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        scaled = values / 257.0
    elif image.mode == "F" and values.size and values.max() <= 1.0:
        scaled = values * 255.0
    else:
        peak = values.max() if values.size else 0.0
        scaled = values / 257.0 if 255 < peak <= 65535 else values
        if peak > 65535:
            scaled = values * (255.0 / peak)
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _rasterise_svg(path: Path, data: bytes | None) -> Image.Image:
    try:
        import cairosvg  # optional: the `svg` extra
    except ImportError:
        raise ItemLoadError(
            str(path),
            "SVG is not rasterised; convert to PNG (or install cairosvg: pip install mixsearch[svg])",
        ) from None
    try:
        png = (
            cairosvg.svg2png(url=str(path), output_width=512)
            if data is None
            else cairosvg.svg2png(bytestring=data, output_width=512)
        )
        image = Image.open(io.BytesIO(png))
        image.load()
    except Exception as err:  # cairosvg raises many parser-specific types
        raise ItemLoadError(str(path), f"SVG could not be rasterised ({err})") from None
    return to_rgb(image)


def load_query_image(image: Any, *, name: str = "query image") -> Image.Image:
    """An image given as a query — a path, the file's bytes, or a PIL image — as RGB, with the
    same checks as indexed files (corrupt data, decompression bombs → ItemLoadError)."""
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, bytes | bytearray | memoryview):
        return load_image(name, data=bytes(image))
    if isinstance(image, str | os.PathLike):
        return load_image(image)
    raise ItemLoadError(name, f"expected a path, bytes or a PIL image, got {type(image).__name__}")
