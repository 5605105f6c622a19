"""Paper made at test time: phone photos of filled-in reply slips and scanned register
printouts, drawn with Pillow in Noto Sans CJK TC (Debian's fonts-noto-cjk) and, for scans,
wrapped in an image-only pdf by fpdf2.  Used by the OCR tests and ``benchmarks/ocr.py``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
_TC = 3
"""Index of Noto Sans CJK TC (Traditional Chinese glyphs) in the collection."""


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(CJK_FONT, size, index=_TC)


def reply_slip(name_en: str, name_zh: str, hkid: str, phone: str, email: str) -> Image.Image:
    """A filled bilingual reply slip as printed (grayscale, A5-ish at 150 dpi)."""
    page = Image.new("L", (1240, 1000), 245)
    draw = ImageDraw.Draw(page)
    draw.text((80, 60), "回條 Reply Slip", font=font(52), fill=20)
    lines = (
        f"姓名 Name: {name_en} {name_zh}",
        f"香港身份證號碼 HKID No.: {hkid}",
        f"電話 Phone: {phone[:4]} {phone[4:]}",
        f"電郵 Email: {email}",
        "本人將出席會議 I will attend the meeting.",
        "簽署 Signature: ____________",
    )
    for n, line in enumerate(lines):
        draw.text((80, 200 + 100 * n), line, font=font(40), fill=25)
    return page


def register_pages(rows: Sequence[Sequence[str]], per_page: int) -> list[Image.Image]:
    """A register printed as a table (A4 at 200 dpi), ``per_page`` rows a page."""
    pages = []
    widths = (0, 420, 760, 1120)
    for start in range(0, len(rows), per_page):
        page = Image.new("L", (1654, 2339), 255)
        draw = ImageDraw.Draw(page)
        draw.text((100, 80), "選民登記冊 Register of Electors", font=font(44), fill=0)
        y = 200
        for column, heading in zip(widths, ("姓名", "Name", "HKID", "Phone"), strict=True):
            draw.text((100 + column, y), heading, font=font(30), fill=0)
        for row in rows[start : start + per_page]:
            y += 54
            for column, cell in zip(widths, row, strict=True):
                draw.text((100 + column, y), cell, font=font(30), fill=0)
        pages.append(page)
    return pages


def photographed(page: Image.Image, *, angle: float, seed: int, quality: int = 70) -> bytes:
    """``page`` as a phone photo of it: tilted on a grey desk, unevenly lit, grainy, a
    little blurred, saved as a JPEG."""
    rng = np.random.default_rng(seed)
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=170)
    pixels = np.asarray(tilted, dtype=np.float32)
    width = pixels.shape[1]
    light = np.linspace(1.0, 0.8, width, dtype=np.float32)[None, :]
    pixels = pixels * light + rng.normal(0, 18, pixels.shape).astype(np.float32)
    photo = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(0.8)).convert("RGB")
    return encode(photo, "JPEG", quality=quality)


def scanned(page: Image.Image, *, angle: float, seed: int) -> Image.Image:
    """``page`` as a flatbed scan: slightly crooked, with speckles."""
    rng = np.random.default_rng(seed)
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(tilted, dtype=np.int16)
    speckles = rng.random(pixels.shape) < 0.002
    pixels = np.where(speckles, 0, pixels)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def image_pdf(pages: Sequence[Image.Image], dpi: int = 200) -> bytes:
    """An image-only pdf (no text layer), one scanned page per image, as a scanner makes."""
    pdf = FPDF(unit="pt")
    for page in pages:
        width, height = page.width * 72 / dpi, page.height * 72 / dpi
        pdf.add_page(format=(width, height))
        pdf.image(io.BytesIO(encode(page, "PNG")), x=0, y=0, w=width, h=height)
    return bytes(pdf.output())
