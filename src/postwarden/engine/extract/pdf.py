"""PDF text layer with pypdfium2 (about 4x faster than pypdf): one unit per page,
``report.pdf#page 3``; pages without a text layer that show an image (scans) are rendered
and read by OCR, ``scan.pdf#ocr page 3``; what a page's annotations hold (notes, their
authors, form fields' values), ``slip.pdf#annotations page 1``; encrypted and damaged files
are uninspectable.

PDFium is lenient: it rebuilds broken cross-reference tables and skips content streams that
do not decode, so a damaged file reads as fewer words, not as an error.  A second reader,
pypdf, walks the same file's structure in strict mode (page tree, every page's content
stream and font maps, without text extraction: about half of PDFium's time); what either
reader cannot open is damaged.  Strict, because pypdf's lenient recovery rescans a broken
file object by object (2.5 s for qpdf's issue-202.pdf, against 16 ms strict), and because a
file that a strict reader refuses is one where readers may disagree on what it shows.
A file in the narrow, exact form that pypdf is certain to accept (:mod:`.pdf_plain`: as fpdf2
and LibreOffice write them) is checked by a few regular expressions and a tokenizer in C
instead, in under a tenth of pypdf's time (0.05 against 0.7 ms for a 3-page file).
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pypdf
import pypdfium2
import pypdfium2.raw as pdfium_c
from pypdf.errors import PyPdfError

from postwarden.engine.extract.budget import Budget, BudgetExhausted, Uninspectable
from postwarden.engine.extract.ocr import read_page
from postwarden.engine.extract.pdf_hidden import (
    Embedded,
    EmbeddedFiles,
    associated,
    bookmarks,
    more_properties,
    properties,
    xmp,
)
from postwarden.engine.extract.pdf_plain import plain
from postwarden.engine.extract.walker import FILE_NAMES, place

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: pages are read through ctypes (`_page_text`)
    _hsscan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from PIL import Image

    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# PDFium is not thread-safe (pypdfium2 documents one document at a time per process): every
# call into it holds this lock, which is let go while a rendered page is read by OCR.
_PDFIUM = threading.Lock()
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD
_POINTS = 72.0
_MIN_DPI, _MAX_DPI, _DPI = 150.0, 400.0, 300.0
"""A scanned page is rendered at its image's own resolution, kept within these bounds
(300 dpi when it has none to go by): Tesseract reads best at 300 dpi."""
_IMAGE = (pdfium_c.FPDF_PAGEOBJ_IMAGE,)
_STAMP = 40
"""Characters of text layer below which a page showing an image is still read by OCR."""
_COVER = 0.5
"""Share of such a page an image must cover to be taken for a scan."""


def _scale(page: pypdfium2.PdfPage, cover: float) -> float:
    """Render scale that shows the page's largest image at its own resolution; 0 when no
    image covers at least ``cover`` of the page."""
    best, dpi = 0.0, _DPI
    for obj in page.get_objects(filter=_IMAGE, max_depth=2):
        assert isinstance(obj, pypdfium2.PdfImage)  # noqa: S101 - the filter says so
        left, bottom, right, top = obj.get_bounds()
        width = right - left
        pixels, _ = obj.get_px_size()
        if width > 0 and width * (top - bottom) > best:
            best, dpi = width * (top - bottom), pixels / (width / _POINTS)
    width, height = page.get_size()
    if not best or best < cover * width * height:
        return 0.0
    return min(max(dpi, _MIN_DPI), _MAX_DPI) / _POINTS


def _render(page: pypdfium2.PdfPage, max_pixels: int, cover: float) -> Image.Image | None:
    """The page as a grayscale image when it shows an image covering at least ``cover`` of
    it (a scan), else ``None``."""
    scale = _scale(page, cover)
    if not scale:
        return None
    width, height = page.get_size()
    pixels = width * height * scale * scale
    if pixels > max_pixels:
        scale *= (max_pixels / pixels) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        image: Image.Image = bitmap.to_pil().convert("L")
        return image
    finally:
        bitmap.close()


class PdfExtractor:
    """Text of every page; pages without text are read by OCR when they show an image, and
    counted in the defects when they show nothing."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        budget = walker.budget
        with _PDFIUM:
            try:
                pdf = _Document(data)
            except pypdfium2.PdfiumError as exc:
                if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
                    raise Uninspectable("encrypted pdf") from None
                raise Uninspectable(f"corrupt pdf: {exc}") from None
        try:
            with _PDFIUM:
                valid = pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(pdf.raw)
            # PDFium rebuilds a damaged cross-reference table by scanning for objects; a
            # reader that trusts the table may then show other objects than the ones we
            # read (truncated files, shadow-attack style edits): damaged, not inspected.
            if not valid:
                raise Uninspectable("damaged pdf: cross-reference table is broken")
            pages = len(pdf)
            if pages > budget.limits.max_members:
                raise Uninspectable(
                    f"pdf with {pages} pages, over limit {budget.limits.max_members}"
                )
            attached = _attachment_count(pdf, budget)
            files = EmbeddedFiles(budget)
            blank = 0
            refused: list[int] = []
            reason = ""
            for index in range(pages):
                budget.check_time()
                text, notes, scan = self._page(pdf, index, budget, not refused, files)
                if text.strip():
                    walker.add(text, f"{where}#page {index + 1}")
                if notes:
                    walker.add(notes, f"{where}#annotations page {index + 1}")
                _visit(files.pending, where, depth, walker)
                if scan is not None:
                    try:
                        read_page(scan, f"{where}#ocr page {index + 1}", walker)
                    except BudgetExhausted:
                        raise
                    except Uninspectable as exc:
                        refused.append(index + 1)
                        reason = exc.reason
                elif refused and _scanned(text):
                    refused.append(index + 1)  # not rendered once OCR was refused
                elif not text.strip():
                    blank += 1
            _hidden(pdf, attached, files, where, depth, walker)
        finally:
            with _PDFIUM:
                pdf.close()
        if not plain(data, pages, walker.budget.check_time):
            custom, packet, associated_files = _second_reader(data, walker, files)
            walker.add(custom, f"{where}#properties")
            walker.add(packet, f"{where}#xmp")
            _visit(associated_files, where, depth, walker)
        if refused:
            walker.uninspectable(where, f"{reason} (pages {_ranges(refused)} not read)")
        if blank:
            walker.defects.append(f"{where}: {blank} of {pages} pages without text or images")

    @staticmethod
    def _page(
        pdf: _Document,
        index: int,
        budget: Budget,
        render: bool,
        files: EmbeddedFiles,
    ) -> tuple[str, str, Image.Image | None]:
        """A page's text layer, its annotations' text and, when it has no text layer, its
        rendering when it shows an image; the files of its file-attachment annotations go
        to ``files``."""
        with _PDFIUM:
            try:
                text, notes = _text(pdf, index, budget.check_time, files)
                scan = None
                if render and _scanned(text):
                    page = pdf.page(index)
                    try:
                        # A stamped page (some text) is a scan only when an image fills it:
                        # a slide with a title and a picture is not read twice.
                        scan = _render(
                            page, budget.limits.max_image_pixels, _COVER if text.strip() else 0.0
                        )
                    finally:
                        page.close()
            except pypdfium2.PdfiumError as exc:
                raise Uninspectable(f"corrupt pdf: page {index + 1}: {exc}") from None
        return text, notes, scan


class _Document:
    """A PDFium document opened from ``data`` as pypdfium2's ``PdfDocument(data)`` followed by
    its ``init_forms()`` opens it, with pypdfium2's object made only where it is needed: for
    a document with a form (its form environment: fields' values, `_annotations`) and for a
    page rendered for OCR (`page`).  Its finalizer, holder lists and the repr it formats for
    a debug log cost 16 of the 43 us that opening and closing a 3-page pdf took (timeit).
    The caller holds `_PDFIUM`."""

    __slots__ = ("_data", "_wrapped", "address", "raw")

    def __init__(self, data: bytes) -> None:
        raw = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
        if pdfium_c.FPDF_GetPageCount(raw) < 1:
            # pypdfium2's own test of an opened document: its error (with PDFium's), word
            # for word, from opening the file its way
            if raw:
                pdfium_c.FPDF_CloseDocument(raw)
            pypdfium2.PdfDocument(data).close()
            raise pypdfium2.PdfiumError("Failed to load document.")  # pragma: no cover
        self.raw = raw
        self.address: int | None = ctypes.cast(raw, ctypes.c_void_p).value
        """The handle's address, as `_hsscan` takes it (``ctypes.cast`` is 1.5 us a call)."""
        self._data = data  # PDFium reads the bytes in place while the document is open
        self._wrapped: pypdfium2.PdfDocument | None = None
        if pdfium_c.FPDF_GetFormType(raw) != pdfium_c.FORMTYPE_NONE:
            try:
                self._wrap().init_forms()
            except pypdfium2.PdfiumError:
                self.close()
                raise

    def _wrap(self) -> pypdfium2.PdfDocument:
        if self._wrapped is None:
            self._wrapped = pypdfium2.PdfDocument(self.raw)
        return self._wrapped

    @property
    def formenv(self) -> Any:
        """The form environment (pypdfium2's ``PdfFormEnv``), if the document has a form."""
        return None if self._wrapped is None else self._wrapped.formenv

    def __len__(self) -> int:
        count: int = pdfium_c.FPDF_GetPageCount(self.raw)
        return count

    def page(self, index: int) -> pypdfium2.PdfPage:
        """Page ``index`` as pypdfium2's object (to render it)."""
        return self._wrap()[index]

    def close(self) -> None:
        if self._wrapped is not None:
            self._wrapped.close()  # and the document it wraps
        else:
            pdfium_c.FPDF_CloseDocument(self.raw)


def _bind() -> None:
    """Hand `_hsscan.pdf_page_text` the PDFium functions it calls, as pypdfium2 loaded them."""
    functions = (
        pdfium_c.FPDF_LoadPage,
        pdfium_c.FPDFPage_GetAnnotCount,
        pdfium_c.FPDFText_LoadPage,
        pdfium_c.FPDFText_CountChars,
        pdfium_c.FPDFText_GetTextIndexFromCharIndex,
        pdfium_c.FPDFText_GetText,
        pdfium_c.FPDFText_ClosePage,
        pdfium_c.FPDF_ClosePage,
        pdfium_c.FPDF_GetMetaText,
    )
    _hsscan.pdfium_bind(tuple(ctypes.cast(f, ctypes.c_void_p).value for f in functions))


COMPILED = _hsscan is not None
if COMPILED:
    _bind()


def _meta_texts(document: pdfium_c.FPDF_DOCUMENT, keys: tuple[bytes, ...]) -> tuple[str, ...]:
    """The Info entries ``keys`` of ``document`` in one call (`_hsscan.pdf_meta_texts`)."""
    found: tuple[str, ...] = _hsscan.pdf_meta_texts(
        ctypes.cast(document, ctypes.c_void_p).value, keys
    )
    return found


def _text(
    pdf: _Document | pypdfium2.PdfDocument,
    index: int,
    check_time: Callable[[], None],
    files: EmbeddedFiles | None = None,
) -> tuple[str, str]:
    """Page ``index``'s text layer and the text of its annotations: `_hsscan.pdf_page_text`
    for a page without annotations (one call instead of ten through ctypes, 1.4-2.8 us
    each), else `_page_text`."""
    if COMPILED:
        # `_Document.address`; pypdfium2's document (the tests' general path) has none
        address = getattr(pdf, "address", None) or ctypes.cast(pdf.raw, ctypes.c_void_p).value
        text = _hsscan.pdf_page_text(address, index)
        if text is not None:
            return text, ""
    return _page_text(pdf, index, check_time, files)


def _page_text(
    pdf: _Document | pypdfium2.PdfDocument,
    index: int,
    check_time: Callable[[], None],
    files: EmbeddedFiles | None = None,
) -> tuple[str, str]:
    """Page ``index``'s text layer, as pypdfium2's ``PdfTextPage.get_text_range()`` reads it
    (and with its errors), through PDFium's own functions: pypdfium2's page and text page
    objects (weak-reference finalizers, a tree of kids) cost 0.07 ms of a 3-page pdf's 0.4;
    and the text of its annotations (:func:`_annotations`; their files go to ``files``)."""
    page = pdfium_c.FPDF_LoadPage(pdf.raw, index)
    if not page:
        raise pypdfium2.PdfiumError("Failed to load page.")
    try:
        textpage = pdfium_c.FPDFText_LoadPage(page)
        if not textpage:
            raise pypdfium2.PdfiumError("Failed to load text page.")
        try:
            form = pdf.formenv.raw if pdf.formenv else None
            return _text_range(textpage), _annotations(page, form, check_time, files)
        finally:
            pdfium_c.FPDFText_ClosePage(textpage)
    finally:
        pdfium_c.FPDF_ClosePage(page)


_ANNOTATIONS_TIMED = 1024
"""Annotations read between two looks at the clock (~8 ms of them)."""
_ANNOTATION_KEYS = (b"Contents", b"T", b"V")
"""What a person types into an annotation: a note's or a free-text box's text, its author
(a form field's name), a form field's value.  PDFium's text layer holds none of them, yet
viewers show them: a filled-in reply slip's name and phone are form values."""


def _annotations(
    page: pdfium_c.FPDF_PAGE,
    form: pdfium_c.FPDF_FORMHANDLE | None,
    check_time: Callable[[], None],
    files: EmbeddedFiles | None = None,
) -> str:
    """The text values of a page's annotations and, in a file with a form (``form``), each
    widget's field value as PDFium resolves it (kept on the field, not the widget, when a
    field has several widgets): a line each, each once.  The file of each file-attachment
    annotation goes to ``files``."""
    count = pdfium_c.FPDFPage_GetAnnotCount(page)
    lines: dict[str, None] = {}
    for at in range(max(count, 0)):
        if not at % _ANNOTATIONS_TIMED:
            check_time()  # one page may list the same annotation millions of times
        annot = pdfium_c.FPDFPage_GetAnnot(page, at)
        if not annot:
            continue
        try:
            for key in _ANNOTATION_KEYS:
                _add_lines(lines, functools.partial(pdfium_c.FPDFAnnot_GetStringValue, annot, key))
            subtype = pdfium_c.FPDFAnnot_GetSubtype(annot)
            if form and subtype == pdfium_c.FPDF_ANNOT_WIDGET:
                _add_lines(
                    lines, functools.partial(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annot)
                )
            elif files is not None and subtype == pdfium_c.FPDF_ANNOT_FILEATTACHMENT:
                files.of_annotation(annot)
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return "\n".join(lines)


def _attachment_count(pdf: _Document, budget: Budget) -> int:
    """How many files the document's ``/EmbeddedFiles`` name tree lists, within
    ``max_members``: told before any is read, as a zip's members are."""
    with _PDFIUM:
        count: int = max(pdfium_c.FPDFDoc_GetAttachmentCount(pdf.raw), 0)
    if count > budget.limits.max_members:
        raise Uninspectable(
            f"pdf with {count} embedded files, over limit {budget.limits.max_members}"
        )
    return count


def _hidden(
    pdf: _Document,
    attached: int,
    files: EmbeddedFiles,
    where: str,
    depth: int,
    walker: Walker,
) -> None:
    """What the document holds besides its pages (:mod:`.pdf_hidden`): its properties
    (``report.pdf#properties``), its bookmarks' titles (``#bookmarks``), and the ``attached``
    files of its name tree, each visited as a file of its own (``report.pdf/voters.xlsx``)."""
    budget = walker.budget
    with _PDFIUM:
        walker.add(properties(pdf.raw, _meta_texts if COMPILED else None), f"{where}#properties")
        walker.add(bookmarks(pdf.raw, budget.check_time), f"{where}#bookmarks")
    for index in range(attached):
        budget.check_time()
        with _PDFIUM:
            found = files.read(pdfium_c.FPDFDoc_GetAttachment(pdf.raw, index))
        if found is not None:
            _visit([found], where, depth, walker)


def _visit(found: list[Embedded], where: str, depth: int, walker: Walker) -> None:
    """Visit each embedded file of ``found`` as a file of its own, or note why it cannot be
    read; ``found`` is emptied."""
    for item in found:
        walker.name(f"{where}#{FILE_NAMES}", item.name)
        inner = f"{where}/{place(item.name)}"
        if item.content is None:
            walker.uninspectable(inner, item.reason)
        else:
            walker.visit(item.content, inner, depth + 1, name=item.name)
    found.clear()


def _add_lines(lines: dict[str, None], read: Callable[[Any, int], int]) -> None:
    """The UTF-16 string PDFium's ``read(buffer, bytes)`` gives (its size first, asked with
    no buffer), a line each into ``lines``."""
    size = read(None, 0)
    if size <= 2:  # absent, or the empty string's terminator
        return
    buffer = (ctypes.c_ushort * (size // 2))()
    read(buffer, size)
    value = codecs.decode(memoryview(buffer)[: size // 2 - 1], "utf-16-le", "ignore")
    for line in value.splitlines():
        if line.strip():
            lines[line.strip()] = None


def _text_range(textpage: pdfium_c.FPDF_TEXTPAGE) -> str:
    """All the text of a text page: characters at either end that PDFium leaves out of its
    text (text index -1) are skipped first, as pypdfium2 does (crbug.com/pdfium/2079: PDFium
    would otherwise read past the range)."""
    count = pdfium_c.FPDFText_CountChars(textpage)
    if count == -1:
        raise pypdfium2.PdfiumError("Failed to get character count.")
    text_index = pdfium_c.FPDFText_GetTextIndexFromCharIndex
    first, last = 0, count - 1
    while first <= last and (first_index := text_index(textpage, first)) == -1:
        first += 1
    if first > last:
        return ""
    # Each index asked once (a call through ctypes is a microsecond; PDFium's answer for a
    # character does not change while its text page is open).
    while (last_index := text_index(textpage, last)) == -1:
        last -= 1
    size = last_index + 2 - first_index  # with the NUL
    # PDFium writes up to two UTF-16 units a character (one beyond the first plane) and a NUL,
    # whatever the text range: room for them, so that no page writes past the buffer; more
    # than ``size`` is still refused.
    buffer = (ctypes.c_ushort * max(size, 2 * (last - first + 1) + 2))()
    written = pdfium_c.FPDFText_GetText(textpage, first, last - first + 1, buffer)
    if written > size:
        raise pypdfium2.PdfiumError("Buffer too small.")
    return codecs.decode(memoryview(buffer)[: written - 1], "utf-16-le", "ignore")


def _scanned(text: str) -> bool:
    """A page whose text layer is empty or a stamp (a page number, a scanner's date line):
    when it shows an image, the image is its content.  ``str.split`` drops exactly what
    ``str.isspace`` calls whitespace, at C speed: a character at a time in Python cost 0.1 ms
    per page of text."""
    return len("".join(text.split())) < _STAMP


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7`` for ``[1, 2, 3, 7]``."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], 0]:
        if n != prev + 1:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    return ", ".join(out)


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


def _second_reader(
    data: bytes, walker: Walker, files: EmbeddedFiles
) -> tuple[str, str, list[Embedded]]:
    """pypdf's view of the structure: every page's content stream, and the fonts and
    character maps its text is drawn with, must parse and decode.  What it reads that PDFium
    does not: the text of the document's custom properties and of its XMP packet, and the
    associated files (``/AF``) not among ``files``, PDFium's."""
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
        return (
            more_properties(reader),
            xmp(reader, walker.budget.limits.max_text_bytes),
            # A file that never names /AF has none: its other objects are not resolved.
            associated(reader, files, walker.budget.check_time) if b"/AF" in data else [],
        )
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
