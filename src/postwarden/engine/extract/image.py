"""Images (PNG, JPEG, TIFF, GIF, BMP, WebP, HEIC/HEIF) decoded with Pillow and read by OCR:
``slip.jpg#ocr``, one unit per frame of a multi-page TIFF or an animation
(``fax.tiff#ocr page 2``).

The pixel count is read from the header and checked before anything is decoded: an image
over ``Limits.max_image_pixels`` (a decompression bomb packs gigapixels into a few KiB) is
uninspectable, as is an image Pillow cannot decode.  Images too small to show a record are
not read (see :data:`~postwarden.engine.extract.ocr.MIN_PIXELS`).
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from postwarden.engine.extract.binary import scan_strings
from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.ocr import MAX_SIDE, read_page, too_small

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# HEIC is what iPhones photograph in; libheif (bundled by pillow-heif) decodes it.
pillow_heif.register_heif_opener()


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """``data`` opened (not yet decoded), its size checked against ``max_pixels``."""
    try:
        with warnings.catch_warnings():
            # Pillow warns of a bomb past its own default (89 MP); either way we refuse it.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Uninspectable(f"image over the limit of {max_pixels:,} pixels") from None
    width, height = image.size
    if width * height > max_pixels:
        raise Uninspectable(
            f"image of {width:,} x {height:,} pixels, over the limit of {max_pixels:,}"
        )
    return image


class ImageExtractor:
    """Every frame of an image, read by OCR under the message's OCR budget."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        limits = walker.budget.limits
        try:
            image = open_image(data, limits.max_image_pixels)
        except UnidentifiedImageError:
            if sniffed.label.endswith(" image"):
                # The magic bytes said PNG, JPEG, ...: a file that does not decode is corrupt.
                raise Uninspectable(f"corrupt {sniffed.label}") from None
            # Only the declared type said image (EMF, WMF, PICT...): read it as binary data.
            scan_strings(data, where, sniffed, walker)
            return
        with image:
            frames = getattr(image, "n_frames", 1)
            if frames > limits.max_members:
                raise Uninspectable(f"image with {frames} frames, over limit {limits.max_members}")
            if too_small(*image.size):
                return
            for index in range(frames):
                walker.budget.check_time()
                place = f"{where}#ocr" if frames == 1 else f"{where}#ocr page {index + 1}"
                read_page(_frame(image, index, sniffed), place, walker)


def _frame(image: Image.Image, index: int, sniffed: Sniffed) -> Image.Image:
    """Frame ``index`` decoded, upright as the camera held it (EXIF orientation)."""
    try:
        image.seek(index)
        if image.format == "JPEG":
            # DCT scaling: a large photo is decoded at a fraction of its size, in grayscale.
            image.draft("L", (MAX_SIDE, MAX_SIDE))
        image.load()
        return ImageOps.exif_transpose(image.copy())
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise Uninspectable(f"corrupt {sniffed.label}: {exc}") from None
