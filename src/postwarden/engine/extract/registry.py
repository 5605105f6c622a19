"""The one place extractors are registered, keyed by sniffed kind."""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, ClassVar, Protocol

from postwarden.engine.extract.sniff import Kind

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker


class Extractor(Protocol):
    """Turns one file's bytes into text units through the walker.

    :param data: the whole file, already decoded from its transfer encoding or archive.
    :param where: its place, e.g. ``attachment:a.zip/b/c.csv``; units add ``#`` and a position.
    :param depth: how many containers enclose it; a container checks ``depth + 1``.
    :param sniffed: what :func:`~postwarden.engine.extract.sniff.sniff` found it to be.
    :param walker: the message's walk: ``add`` units, ``visit`` members, the shared budget.

    Raise :class:`~postwarden.engine.extract.budget.Uninspectable` with a reason when the
    content cannot be read (encrypted, corrupt, over a limit); never skip it in silence.
    """

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None: ...


class _Deferred:
    """An extractor whose module (and the library it wraps: pypdf, Pillow, calamine ...)
    is imported the first time a part of its kind is met, not when the engine is: a plain
    text message never loads a PDF library (tests/cli/test_imports.py)."""

    _loaded: ClassVar[dict[str, Extractor]] = {}
    _lock = threading.Lock()

    def __init__(self, target: str) -> None:
        self.target = target
        """``module:Class`` in ``postwarden.engine.extract``."""
        self._extractor: Extractor | None = None

    def load(self) -> Extractor:
        """The extractor itself: one instance per class for the whole process."""
        extractor = self._extractor
        if extractor is not None:  # loaded before: no lock to take for each part
            return extractor
        with self._lock:
            extractor = self._loaded.get(self.target)
            if extractor is None:
                module, _, name = self.target.partition(":")
                cls = getattr(importlib.import_module(f"postwarden.engine.extract.{module}"), name)
                extractor = self._loaded[self.target] = cls()
            self._extractor = extractor
            return extractor

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        self.load().extract(data, where, depth, sniffed, walker)


_STRINGS = _Deferred("binary:StringsExtractor")
_REFUSED = _Deferred("binary:RefusedExtractor")
REGISTRY: dict[Kind, Extractor] = {
    Kind.TEXT: _Deferred("text:TextExtractor"),
    Kind.HTML: _Deferred("html:HtmlExtractor"),
    Kind.CSV: _Deferred("delimited:CsvExtractor"),
    Kind.EML: _Deferred("mail:EmlExtractor"),
    Kind.ZIP: _Deferred("archive:ZipExtractor"),
    Kind.COMPRESSED: _Deferred("archive:CompressedExtractor"),
    Kind.TAR: _Deferred("archive:TarExtractor"),
    Kind.SPREADSHEET: _Deferred("spreadsheet:SpreadsheetExtractor"),
    Kind.DOCX: _Deferred("document:DocxExtractor"),
    Kind.OOXML: _Deferred("office:OfficeExtractor"),
    Kind.PDF: _Deferred("pdf:PdfExtractor"),
    Kind.MSG: _Deferred("outlook:MsgExtractor"),
    Kind.OLE: _STRINGS,
    Kind.ENCRYPTED: _REFUSED,
    Kind.ARCHIVE: _REFUSED,
    Kind.IMAGE: _Deferred("image:ImageExtractor"),
    Kind.MEDIA: _STRINGS,
    Kind.PACKAGE: _Deferred("binary:PackageExtractor"),
    Kind.UNREADABLE: _REFUSED,
    Kind.BINARY: _STRINGS,
    Kind.RTF: _Deferred("rtf:RtfExtractor"),
    Kind.TNEF: _Deferred("tnef:TnefExtractor"),
    Kind.DOC: _Deferred("word:DocExtractor"),
}


def loaded(extractor: Extractor) -> Extractor:
    """The extractor behind a ``REGISTRY`` entry, its module imported if it was deferred."""
    return extractor.load() if isinstance(extractor, _Deferred) else extractor
