"""What a pdf carries besides its pages' text, which every viewer lists: embedded files (the
document's ``/EmbeddedFiles`` name tree -- the attachments pane, portfolios: a letter that
carries ``voters.xlsx`` -- and the files of file-attachment annotations, a paper clip on a
page, and a PDF 2.0 file's associated files, ``/AF``), the document's properties (its Info
dictionary; its XMP metadata) and its bookmarks' titles.

The functions that take a PDFium handle call into PDFium: the caller holds :mod:`.pdf`'s
lock.  PDFium reads the Info dictionary's six text entries only (``FPDF_GetMetaText`` is
asked by key), and has no call for the XMP packet: what pypdf's reading of a file adds
(`more_properties`, `xmp`) is read where pypdf reads the file (:func:`.pdf._second_reader`);
a plain file (:mod:`.pdf_plain`) has neither.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree
import pypdf
import pypdfium2.raw as pdfium_c
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    StreamObject,
    TextStringObject,
)

from postwarden.engine.extract.budget import Budget, BudgetExhausted, Uninspectable, size

_INFO_KEYS = (b"Title", b"Author", b"Subject", b"Keywords", b"Creator", b"Producer")
"""The Info dictionary's text entries (PDF 32000-1 §14.3.3) that viewers show as the
document's properties; its dates are not read."""
_BOOKMARKS_TIMED = 1024
"""Bookmarks read between two looks at the clock."""
_UNNAMED = "embedded file"
_TEXT = (TextStringObject, ByteStringObject)
READ_INFO = frozenset(
    {*(b"/" + key for key in _INFO_KEYS), b"/CreationDate", b"/ModDate", b"/Trapped"}
)
"""The Info entries PDFium reads (`properties`) and those that hold no text of anyone: any
other is a custom property, which pypdf's reading adds (`more_properties`)."""


@dataclass(frozen=True, slots=True)
class Embedded:
    """One embedded file: its name, and its bytes or why they cannot be had (``reason``)."""

    name: str
    content: bytes | None
    reason: str = ""


def _string(read: Callable[[Any, int], int]) -> str:
    """The UTF-16 string PDFium's ``read(buffer, bytes)`` gives (its size first, asked with
    no buffer)."""
    length = read(None, 0)
    if length <= 2:  # absent, or the empty string's terminator
        return ""
    buffer = (ctypes.c_ushort * (length // 2))()
    read(buffer, length)
    return codecs.decode(memoryview(buffer)[: length // 2 - 1], "utf-16-le", "ignore")


def _lines(values: list[str]) -> str:
    """Every line of ``values``, stripped, once."""
    lines: dict[str, None] = {}
    for value in values:
        for line in value.splitlines():
            if line.strip():
                lines[line.strip()] = None
    return "\n".join(lines)


def properties(
    document: pdfium_c.FPDF_DOCUMENT,
    texts: Callable[[pdfium_c.FPDF_DOCUMENT, tuple[bytes, ...]], tuple[str, ...]] | None = None,
) -> str:
    """The document's title, author, subject, keywords, creating application and producer:
    a line each, each once.  ``texts`` reads them all in one call, as `_string` reads each
    (pdf.py's `_hsscan.pdf_meta_texts`)."""
    if texts is not None:
        return _lines(list(texts(document, _INFO_KEYS)))
    return _lines(
        [_string(functools.partial(pdfium_c.FPDF_GetMetaText, document, key)) for key in _INFO_KEYS]
    )


_Object = TypeVar("_Object")


def _resolved(dictionary: DictionaryObject, key: str, kind: type[_Object]) -> _Object | None:
    """The object ``dictionary[key]`` refers to, if there is one and it is a ``kind``."""
    value = dictionary.get(key)
    if value is None:
        return None
    value = value.get_object()
    return value if isinstance(value, kind) else None


def more_properties(reader: pypdf.PdfReader) -> str:
    """The text of the Info dictionary's other entries (custom properties: a viewer's
    "Custom" tab), a line each, each once."""
    info = _resolved(reader.trailer, "/Info", DictionaryObject)
    if info is None:
        return ""
    values = (value.get_object() for key, value in info.items() if key.encode() not in READ_INFO)
    return _lines([str(value) for value in values if isinstance(value, _TEXT)])


def xmp(reader: pypdf.PdfReader, limit: int) -> str:
    """The text of the document's XMP packet (the catalog's ``/Metadata`` stream): every
    element's text and attribute's value, a line each, each once; a packet that does not
    parse as XML (or declares entities, which XMP never does) is read as it is.  A packet
    over ``limit`` bytes (the message's text limit) is not parsed: uninspectable."""
    stream = _resolved(reader.root_object, "/Metadata", StreamObject)
    if stream is None:
        return ""
    packet = stream.get_data()
    if len(packet) > limit:
        raise Uninspectable(f"XMP metadata of {size(len(packet))} over limit {size(limit)}")
    try:
        root = defusedxml.ElementTree.fromstring(packet)
    except (ElementTree.ParseError, defusedxml.DefusedXmlException):
        return _lines([codecs.decode(packet, "utf-8", "replace")])
    values: list[str] = []
    for element in root.iter():
        values.extend(element.attrib.values())
        values.extend(text for text in (element.text, element.tail) if text)
    return _lines(values)


def bookmarks(document: pdfium_c.FPDF_DOCUMENT, check_time: Callable[[], None]) -> str:
    """The titles of the document's outline, depth first, each once.  An outline may loop (a
    ``/Next`` or ``/First`` back to an earlier item): an item met again is not followed, as
    in PDFium's own ``FPDFBookmark_Find``; the clock is read every `_BOOKMARKS_TIMED` items."""
    titles: list[str] = []
    seen: set[int] = set()
    todo = [pdfium_c.FPDFBookmark_GetFirstChild(document, None)]
    while todo:
        item = todo.pop()
        address = ctypes.cast(item, ctypes.c_void_p).value
        if not address or address in seen:
            continue
        seen.add(address)
        if not len(seen) % _BOOKMARKS_TIMED:
            check_time()
        titles.append(_string(functools.partial(pdfium_c.FPDFBookmark_GetTitle, item)))
        todo.append(pdfium_c.FPDFBookmark_GetNextSibling(document, item))
        todo.append(pdfium_c.FPDFBookmark_GetFirstChild(document, item))
    return _lines(titles)


class EmbeddedFiles:
    """The embedded files of one pdf, each read once (a page may list one annotation
    thousands of times, an annotation may name a file of the name tree), at most
    ``max_members`` of them, each within the part size limit and charged to the message's
    expansion budget; those of annotations wait in ``pending`` to be visited (outside the
    lock: an embedded pdf is read by PDFium too)."""

    __slots__ = ("budget", "pending", "read_files", "seen")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.seen: set[int] = set()
        self.pending: list[Embedded] = []
        self.read_files: set[bytes] = set()
        """A digest of the name and bytes of each file read, so that an associated file
        (`associated`) that is also in the name tree or on an annotation is read once."""

    def count(self, handle: int | None = None) -> None:
        """One more file of this pdf (PDFium's ``handle``; none for one pypdf read): within
        ``max_members``."""
        # PDFium's handles are addresses, never negative.
        self.seen.add(-len(self.seen) - 1 if handle is None else handle)
        limit = self.budget.limits.max_members
        if len(self.seen) > limit:
            raise Uninspectable(f"pdf with over {limit} embedded files")

    def first_time(self, name: str, content: bytes) -> bool:
        """Whether the file ``name`` with ``content`` was not read from this pdf before."""
        hashed = hashlib.blake2b(name.encode("utf-8", "surrogatepass") + b"\0", digest_size=16)
        hashed.update(content)
        digest = hashed.digest()
        if digest in self.read_files:
            return False
        self.read_files.add(digest)
        return True

    def of_annotation(self, annotation: pdfium_c.FPDF_ANNOTATION) -> None:
        """The file of a file-attachment annotation, into ``pending``."""
        found = self.read(pdfium_c.FPDFAnnot_GetFileAttachment(annotation))
        if found is not None:
            self.pending.append(found)

    def read(self, handle: pdfium_c.FPDF_ATTACHMENT) -> Embedded | None:
        """The file of the file specification ``handle`` (from the name tree or an
        annotation; a null one where PDFium finds none); ``None`` when it was read before."""
        address = ctypes.cast(handle, ctypes.c_void_p).value or 0
        if address in self.seen:
            return None
        self.count(address)
        if not address:  # noted once, however many annotations lack their file
            return Embedded(_UNNAMED, None, "embedded file without a file specification")
        name = _string(functools.partial(pdfium_c.FPDFAttachment_GetName, handle)) or _UNNAMED
        try:
            content = self._content(handle)
        except BudgetExhausted:
            raise  # the message's budget is spent, not just this file's
        except Uninspectable as exc:
            return Embedded(name, None, exc.reason)
        self.first_time(name, content)
        return Embedded(name, content)

    def _content(self, handle: pdfium_c.FPDF_ATTACHMENT) -> bytes:
        """The decoded bytes of the file.  PDFium decodes them whole at each call, before
        their size is known (as it does a page's content stream), within its own limits (1
        GiB a flate stream); the size is checked against ours before Python holds them.
        PDFium copies only into a buffer of exactly that size, and a shorter one stops the
        process (a failed CHECK): the size is asked first, with no buffer."""
        length = ctypes.c_ulong()
        if not pdfium_c.FPDFAttachment_GetFile(handle, None, 0, ctypes.byref(length)):
            # No embedded stream: a file named but kept elsewhere, or a broken reference.
            raise Uninspectable("embedded file whose data PDFium cannot read")
        found = length.value
        limits = self.budget.limits
        if found > limits.max_part_bytes:
            raise Uninspectable(
                f"embedded file of {size(found)} over limit {size(limits.max_part_bytes)}"
            )
        self.budget.add_expanded(found)
        if not found:
            return b""
        whole = (ctypes.c_char * found)()
        if (
            not pdfium_c.FPDFAttachment_GetFile(handle, whole, found, ctypes.byref(length))
            or length.value != found
        ):
            raise Uninspectable("embedded file whose data PDFium cannot read")
        return whole.raw


_AF_HOLDERS_TIMED = 256
"""Pages, annotations and images looked at for ``/AF`` between two looks at the clock."""


def associated(
    reader: pypdf.PdfReader, files: EmbeddedFiles, check_time: Callable[[], None]
) -> list[Embedded]:
    """The files a PDF 2.0 document associates (``/AF``, ISO 32000-2 §14.13) with its
    catalog, its pages, their annotations and the images and forms they draw, that were not
    read already (`EmbeddedFiles.first_time`): PDFium lists only the name tree's files and
    the annotations', and a viewer shows the others in its attachments pane all the same.
    Each counts against ``max_members``, is checked against the part size and charged to
    the expansion budget; pypdf decodes a stream whole first, within its own limit."""
    holders: list[Any] = [reader.root_object]
    found: list[Embedded] = []
    for number, page in enumerate(reader.pages):
        if not number % _AF_HOLDERS_TIMED:
            check_time()
        holders.append(page)
        annotations = _resolved(page, "/Annots", ArrayObject)
        holders.extend(a.get_object() for a in annotations or ())
        resources = _resolved(page, "/Resources", DictionaryObject)
        drawn = _resolved(resources, "/XObject", DictionaryObject) if resources else None
        holders.extend(x.get_object() for x in (drawn or {}).values())
    for number, holder in enumerate(holders):
        if not number % _AF_HOLDERS_TIMED:
            check_time()
        specs = (
            _resolved(holder, "/AF", ArrayObject) if isinstance(holder, DictionaryObject) else None
        )
        for spec in specs or ():
            spec = spec.get_object()
            if isinstance(spec, DictionaryObject):
                item = _associated_file(spec, files)
                if item is not None:
                    found.append(item)
    return found


def _associated_file(spec: DictionaryObject, files: EmbeddedFiles) -> Embedded | None:
    """The file of the file specification ``spec``, or ``None`` when it has no embedded
    stream (a file kept elsewhere: nothing leaves with the pdf) or was read before."""
    streams = _resolved(spec, "/EF", DictionaryObject)
    if streams is None:
        return None
    name = next((str(v) for k in ("/UF", "/F") if isinstance(v := spec.get(k), _TEXT)), "")
    name = name or _UNNAMED
    stream = _resolved(streams, "/UF", StreamObject) or _resolved(streams, "/F", StreamObject)
    if stream is None:
        files.count()
        return Embedded(name, None, "embedded file whose data pypdf cannot read")
    content = stream.get_data()
    if not files.first_time(name, content):
        return None
    files.count()
    limits = files.budget.limits
    if len(content) > limits.max_part_bytes:
        return Embedded(
            name,
            None,
            f"embedded file of {size(len(content))} over limit {size(limits.max_part_bytes)}",
        )
    files.budget.add_expanded(len(content))
    return Embedded(name, content)
