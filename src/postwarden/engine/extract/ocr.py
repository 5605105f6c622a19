"""OCR: text read from images and scanned pages by Tesseract (Traditional Chinese and
English), under a per-message budget of pages and seconds.

Tesseract is driven through tesserocr (its C++ API, with the model loaded once per engine and
the GIL released while it reads) rather than pytesseract, which starts the ``tesseract``
program for every image: on a 1,300 x 1,100 photo of a reply slip tesserocr took 0.26-0.30 s
with the model loaded, pytesseract 1.45 s (a process, a temporary file and a model load each
time).  Engines are pooled: one is taken per page and given back, so concurrent inspections
each get their own (an engine is not thread-safe and holds about 60 MB of models).

``chi_tra+eng`` rather than ``eng+chi_tra``: with English first Tesseract puts a space between
every two Chinese characters (``陳 玲 明``) and reads a Chinese label as Latin garbage; with
Chinese first the same slip reads cleanly at the same speed (measured 0.26 vs 0.30 s).

What the budget refuses is *uninspectable* (held when it goes outside), never skipped.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.skew import deskew
from postwarden.errors import Unavailable
from postwarden.model import TextUnit
from postwarden.settings import tessdata_prefix

if TYPE_CHECKING:
    import tesserocr

    from postwarden.engine.extract.walker import Walker

LANGUAGES = "chi_tra+eng"
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
)
MIN_SIDE = 24
MIN_PIXELS = 40_000
"""Images smaller than this (either side under 24 px, or under 40,000 pixels, e.g. 200 x 200)
are not read.  They are icons, emoji, social badges, tracking pixels, bullets and most
signature logos (a 300 x 100 logo is 30,000 pixels); reading one costs 5-30 ms and a page of
the budget, so a newsletter with forty of them would spend a second and could run the page
budget out (held as uninspectable).  Anything that shows a person's record legibly -- a slip,
a form, a screenshot of more than a couple of spreadsheet rows -- is larger."""
MAX_SIDE = 4000
"""Longer side a page is scaled down to before OCR: a 300 dpi A4 scan is 3,508 pixels
high; a 50 MP photo is scaled down to this, which keeps its text well above Tesseract's
smallest readable size and bounds the time one page can take."""
UPSCALE_BELOW = 1200
"""Smaller images (screenshots at 96 dpi: 11-15 pixel text) are read at twice the size,
where Tesseract's models work best (text 20-30 pixels high)."""
_RESOLUTION = 300
# Tesseract separates Chinese characters it reads with spaces now and then; names and
# addresses are written without them.
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) +(?=[\u3400-\u9fff\uf900-\ufaff])")
# A single block pads table columns with runs of spaces: a tab says "next cell".
_COLUMN_GAP = re.compile(r" {3,}")


class OcrUnavailable(Unavailable):
    """Tesseract or its language data is not installed."""


def tessdata_dir() -> str:
    """Where the ``chi_tra`` and ``eng`` models are: ``$TESSDATA_PREFIX``, else Debian's."""
    env = tessdata_prefix()
    candidates = (env, *TESSDATA_DIRS) if env else TESSDATA_DIRS
    for folder in candidates:
        path = Path(folder)
        if all((path / f"{lang}.traineddata").is_file() for lang in LANGUAGES.split("+")):
            return str(path)
    raise OcrUnavailable(
        "Tesseract language data (chi_tra, eng) not found: install tesseract-ocr-chi-tra and "
        "tesseract-ocr-eng"
    )


class _Pool:
    """Loaded Tesseract engines, one lent per page being read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tesserocr.PyTessBaseAPI] = []

    def take(self) -> tesserocr.PyTessBaseAPI:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            import tesserocr  # loads libtesseract only when an image needs it

            # One uniform block (PSM 6) keeps a table's row on one line (name, HKID and
            # phone stay together for register matching); automatic layout (PSM 3) reads
            # a printed register column by column, at the same speed.
            return tesserocr.PyTessBaseAPI(
                path=tessdata_dir(), lang=LANGUAGES, psm=tesserocr.PSM.SINGLE_BLOCK
            )
        except (ImportError, RuntimeError) as exc:
            raise OcrUnavailable(f"Tesseract unavailable: {exc}") from None

    def give(self, engine: tesserocr.PyTessBaseAPI) -> None:
        engine.Clear()
        with self._lock:
            self._idle.append(engine)


_POOL = _Pool()


def too_small(width: int, height: int) -> bool:
    """Too small to hold a legible record, so not worth an OCR page (see ``MIN_PIXELS``)."""
    return min(width, height) < MIN_SIDE or width * height < MIN_PIXELS


def grayscale(image: Image.Image) -> Image.Image:
    """8-bit grayscale, transparent areas white (a screenshot's transparency is paper)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return image.convert("L")


def prepare(image: Image.Image) -> Image.Image:
    """A page made ready for Tesseract: grayscale, contrast stretched, a size Tesseract
    reads well, and straightened."""
    page = ImageOps.autocontrast(grayscale(image), cutoff=1)
    longest = max(page.size)
    if longest > MAX_SIDE:
        page.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    elif longest < UPSCALE_BELOW:
        page = page.resize((page.width * 2, page.height * 2), Image.Resampling.LANCZOS)
    return deskew(page)


def recognise(page: Image.Image, seconds: float) -> tuple[str, float] | None:
    """Text and mean word confidence (0-1) of a prepared page; ``None`` past ``seconds``."""
    engine = _POOL.take()
    try:
        engine.SetImageBytes(page.tobytes(), page.width, page.height, 1, page.width)
        engine.SetSourceResolution(_RESOLUTION)
        if not engine.Recognize(timeout=max(1, int(seconds * 1000))):
            return None
        text = engine.GetUTF8Text()
        confidence = engine.MeanTextConf() / 100
    finally:
        _POOL.give(engine)
    return _COLUMN_GAP.sub("\t", _CJK_GAP.sub("", text)), confidence


def read_page(image: Image.Image, where: str, walker: Walker) -> None:
    """OCR one image or page into a text unit at ``where``, charged to the message's OCR
    budget; raises :class:`Uninspectable` when the budget is spent or OCR is unavailable."""
    budget = walker.budget
    limits = budget.limits
    if budget.ocr_pages >= limits.max_ocr_pages:
        raise Uninspectable(f"over the OCR budget of {limits.max_ocr_pages} pages per message")
    seconds = min(limits.max_ocr_seconds - budget.ocr_seconds, budget.deadline - time.monotonic())
    if seconds <= 0:
        budget.check_time()
        raise Uninspectable(f"over the OCR budget of {limits.max_ocr_seconds:g} s per message")
    budget.ocr_pages += 1
    started = time.monotonic()
    try:
        read = recognise(prepare(image), seconds)
    except OcrUnavailable as exc:
        raise Uninspectable(f"image not read: {exc}") from None
    finally:
        budget.ocr_seconds += time.monotonic() - started
    if read is None:
        budget.check_time()
        raise Uninspectable(f"over the OCR budget of {limits.max_ocr_seconds:g} s per message")
    text, confidence = read
    if text.strip():
        budget.add_text(len(text))
        walker.units.append(TextUnit(text, where, ocr_confidence=confidence))
        budget.ocr_confidence[where] = confidence
