"""The one place extractors are registered, keyed by sniffed kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from postwarden.engine.extract.archive import CompressedExtractor, TarExtractor, ZipExtractor
from postwarden.engine.extract.binary import PackageExtractor, RefusedExtractor, StringsExtractor
from postwarden.engine.extract.delimited import CsvExtractor
from postwarden.engine.extract.document import DocxExtractor
from postwarden.engine.extract.html import HtmlExtractor
from postwarden.engine.extract.image import ImageExtractor
from postwarden.engine.extract.mail import EmlExtractor
from postwarden.engine.extract.office import OfficeExtractor
from postwarden.engine.extract.outlook import MsgExtractor
from postwarden.engine.extract.pdf import PdfExtractor
from postwarden.engine.extract.rtf import RtfExtractor
from postwarden.engine.extract.sniff import Kind
from postwarden.engine.extract.spreadsheet import SpreadsheetExtractor
from postwarden.engine.extract.text import TextExtractor
from postwarden.engine.extract.tnef import TnefExtractor
from postwarden.engine.extract.word import DocExtractor

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


_STRINGS = StringsExtractor()
REGISTRY: dict[Kind, Extractor] = {
    Kind.TEXT: TextExtractor(),
    Kind.HTML: HtmlExtractor(),
    Kind.CSV: CsvExtractor(),
    Kind.EML: EmlExtractor(),
    Kind.ZIP: ZipExtractor(),
    Kind.COMPRESSED: CompressedExtractor(),
    Kind.TAR: TarExtractor(),
    Kind.SPREADSHEET: SpreadsheetExtractor(),
    Kind.DOCX: DocxExtractor(),
    Kind.OOXML: OfficeExtractor(),
    Kind.PDF: PdfExtractor(),
    Kind.MSG: MsgExtractor(),
    Kind.OLE: _STRINGS,
    Kind.ENCRYPTED: RefusedExtractor(),
    Kind.ARCHIVE: RefusedExtractor(),
    Kind.IMAGE: ImageExtractor(),
    Kind.MEDIA: _STRINGS,
    Kind.PACKAGE: PackageExtractor(),
    Kind.UNREADABLE: RefusedExtractor(),
    Kind.BINARY: _STRINGS,
    Kind.RTF: RtfExtractor(),
    Kind.TNEF: TnefExtractor(),
    Kind.DOC: DocExtractor(),
}


def extractor_for(kind: Kind) -> Extractor:
    return REGISTRY[kind]
