"""PDF text layer with pypdfium2 (about 4x faster than pypdf): one unit per page,
``report.pdf#page 3``; encrypted and damaged files are uninspectable.

PDFium is lenient: it rebuilds broken cross-reference tables and skips content streams that
do not decode, so a damaged file reads as fewer words, not as an error.  A second reader,
pypdf, walks the same file's structure in strict mode (page tree, every page's content
stream and font maps, without text extraction: about half of PDFium's time); what either
reader cannot open is damaged.  Strict, because pypdf's lenient recovery rescans a broken
file object by object (2.5 s for qpdf's issue-202.pdf, against 16 ms strict), and because a
file that a strict reader refuses is one where readers may disagree on what it shows.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

import pypdf
import pypdfium2
import pypdfium2.raw as pdfium_c
from pypdf.errors import PyPdfError

from postwarden.engine.extract.budget import Uninspectable

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# PDFium is not thread-safe (pypdfium2 documents one document at a time per process).
_PDFIUM = threading.Lock()
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


class PdfExtractor:
    """Text of every page; pages without any text are counted in the defects (scans)."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        budget = walker.budget
        with _PDFIUM:
            try:
                pdf = pypdfium2.PdfDocument(data)
            except pypdfium2.PdfiumError as exc:
                if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
                    raise Uninspectable("encrypted pdf") from None
                raise Uninspectable(f"corrupt pdf: {exc}") from None
            try:
                # PDFium rebuilds a damaged cross-reference table by scanning for objects; a
                # reader that trusts the table may then show other objects than the ones we
                # read (truncated files, shadow-attack style edits): damaged, not inspected.
                if not pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(pdf.raw):
                    raise Uninspectable("damaged pdf: cross-reference table is broken")
                pages = len(pdf)
                if pages > budget.limits.max_members:
                    raise Uninspectable(
                        f"pdf with {pages} pages, over limit {budget.limits.max_members}"
                    )
                blank = 0
                for index in range(pages):
                    budget.check_time()
                    try:
                        page = pdf[index]
                        textpage = page.get_textpage()
                        text = textpage.get_text_range()
                        textpage.close()
                        page.close()
                    except pypdfium2.PdfiumError as exc:
                        raise Uninspectable(f"corrupt pdf: page {index + 1}: {exc}") from None
                    if text.strip():
                        walker.add(text, f"{where}#page {index + 1}")
                    else:
                        blank += 1
            finally:
                pdf.close()
        _second_reader(data, walker)
        if blank:
            walker.defects.append(f"{where}: {blank} of {pages} pages without text (images only)")


# What pypdf raises on damaged input besides its own errors (it has no catch-all type).
_PYPDF_ERRORS = (
    PyPdfError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    RecursionError,
    OSError,
)


def _second_reader(data: bytes, walker: Walker) -> None:
    """pypdf's view of the structure: every page's content stream, and the fonts and
    character maps its text is drawn with, must parse and decode."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Uninspectable("encrypted pdf")
        for page in reader.pages:
            walker.budget.check_time()
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
            _fonts(page)
    except _PYPDF_ERRORS as exc:
        raise Uninspectable(f"damaged pdf: {type(exc).__name__}") from None


def _fonts(page: pypdf.PageObject) -> None:
    """Resolve the page's fonts and decode their ToUnicode maps (what text is read through)."""
    resources = page.get("/Resources")
    if resources is None:
        return
    fonts = resources.get_object().get("/Font")
    if fonts is None:
        return
    for ref in fonts.get_object().values():
        font = ref.get_object()
        for key in ("/ToUnicode", "/DescendantFonts"):
            if key in font:
                target = font[key].get_object()
                if hasattr(target, "get_data"):
                    target.get_data()
