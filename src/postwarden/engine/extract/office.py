"""Office packages (OOXML and OpenDocument): the package guard shared by the spreadsheet,
docx and generic office extractors, and the generic one itself (pptx, odt, others).

An OOXML file is a zip of XML parts, so it gets the zip guards, and every XML part is read up
to its root element with defusedxml first: OOXML forbids DTDs, so a DOCTYPE can only be an
entity bomb ("billion laughs") or an external-entity (XXE) probe, and the file is refused
before calamine or the docx reader ever parse it.

What is read, and why every part is still inflated.  The docx reader reads the main
document, the headers and footers its sections reference, comments, footnotes, endnotes, the
relationships that lead to them and the parts they import (``w:altChunk``); calamine reads
a workbook's sheets, shared strings and styles; the generic extractor reads every XML part
under ``word/``, ``xl/``, ``ppt/slides/`` and ``ppt/notesSlides/`` (and an OpenDocument's
``content.xml`` and ``styles.xml``); embedded files and pictures are visited like
attachments.  The rest of a docx (styles, theme, settings, font table, numbering, custom
XML, document properties, glossary, charts, SmartArt data) is checked, never read.  Not
inflating those parts would let a damaged one pass: python-docx, Excel and Word read them
and refuse (or "repair") a part whose stream or CRC is bad, and the mutated-documents tests
hold every file its own library cannot open.  So every part is inflated and CRC-checked;
what is cheaper is how (`archive.direct_chunks`) and how often (`VERIFIED`).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree.ElementTree import ParseError

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from postwarden.engine.extract.archive import (
    NotPlain,
    check_declared,
    direct_chunks,
    encryption,
    open_zip,
    plain_packed,
    stream_member,
)
from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.walker import place

if TYPE_CHECKING:
    from postwarden.engine.extract.budget import Budget
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# Embedded files, and the pictures of a document (a screenshot of a spreadsheet pasted into
# a letter), which go through the walk like attachments: pictures are read by OCR.
EMBEDDED = (
    "word/embeddings/",
    "xl/embeddings/",
    "ppt/embeddings/",
    "word/media/",
    "xl/media/",
    "ppt/media/",
)


class _RootReached(Exception):
    """The prolog is over: no DTD can follow the root element's start tag."""


class _Target:
    """An ElementTree parser target that stops at the root element."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootReached

    def end(self, tag: str) -> None:
        return None

    def data(self, data: str) -> None:
        return None

    def close(self) -> None:
        return None


class Parts(Mapping[str, bytes]):
    """Guarded XML parts by lowercase name, each kept as the chunks it was decompressed in
    and joined when a reader asks for it: a docx's styles (780 KB of the bench tree's 37 KB
    files) are checked but never read, and joining them cost page faults for nothing.  A
    part found in `VERIFIED` is kept compressed and inflated only if a reader asks."""

    __slots__ = ("_chunks", "_packed")

    def __init__(self) -> None:
        self._chunks: dict[str, list[bytes]] = {}
        self._packed: dict[str, tuple[bytes, zipfile.ZipInfo]] = {}

    def keep(self, name: str, chunks: list[bytes]) -> None:
        self._chunks[name] = chunks

    def keep_packed(self, name: str, packed: bytes, info: zipfile.ZipInfo) -> None:
        """A part known to inflate to exactly its declared size with its CRC (`VERIFIED`)."""
        self._packed[name] = (packed, info)
        self._chunks[name] = []

    def __getitem__(self, name: str) -> bytes:
        chunks = self._chunks[name]
        if name in self._packed:
            packed, info = self._packed.pop(name)
            chunks[:] = [_inflate_verified(packed, info)]
        elif len(chunks) != 1:
            chunks[:] = [b"".join(chunks)]
        return chunks[0]

    def __contains__(self, name: object) -> bool:
        return name in self._chunks

    def __iter__(self) -> Iterator[str]:
        return iter(self._chunks)

    def __len__(self) -> int:
        return len(self._chunks)


def _inflate_verified(packed: bytes, info: zipfile.ZipInfo) -> bytes:
    """A `VERIFIED` part's bytes: its stream up to its declared size, as it was checked."""
    if info.compress_type == zipfile.ZIP_STORED or not info.file_size:
        return packed[: info.file_size]
    return zlib.decompressobj(-15).decompress(packed, info.file_size)


_Key = tuple[bytes, int, int, int, bool]


class Verified:
    """Parts of office packages that were inflated whole and found sound, by everything
    that decided it: a keyed digest of their compressed bytes, their method, CRC, declared
    size, and whether their XML prolog was checked.

    Inflating and CRC-checking every part is what keeps a damaged part from passing unread
    (python-docx and Word read the styles, theme and settings that our readers skip, and a
    part that does not inflate makes the file uninspectable).  It is also most of a docx's
    cost: 790 KB of styles in a 37 KB file.  Documents made from one template carry the very
    same compressed styles and theme, and the same bytes always inflate to the same result,
    so a part whose bytes were checked once is not inflated again: the budget is charged its
    declared size, and the declared-size limits are checked again (they may have changed).

    Only a digest is kept, never the part: a listener keeps no copy of the mail it passed
    (docs/security.md).  The digest is BLAKE2b-256 under a key drawn at start, so no part
    can be crafted to pass as another (a second preimage of a 256-bit keyed hash).  Bounded
    to ``max_parts`` digests, the least recently seen forgotten first.
    """

    def __init__(self, max_parts: int) -> None:
        self._max_parts = max_parts
        self._secret = os.urandom(32)
        self._keys: dict[_Key, None] = {}
        self._lock = threading.Lock()
        self.hits = 0
        """Parts not inflated again, since start."""

    def key(self, packed: bytes, info: zipfile.ZipInfo, check_xml: bool) -> _Key:
        digest = hashlib.blake2b(packed, key=self._secret, digest_size=32).digest()
        return digest, info.compress_type, info.CRC, info.file_size, check_xml

    def seen(self, key: _Key) -> bool:
        with self._lock:
            if key not in self._keys:
                return False
            del self._keys[key]
            self._keys[key] = None  # most recently seen last
            self.hits += 1
            return True

    def forget(self) -> None:
        """Remember nothing (a benchmark's next round must meet its files afresh)."""
        with self._lock:
            self._keys.clear()

    def add(self, key: _Key) -> None:
        if not self._max_parts:
            return
        with self._lock:
            if key in self._keys:
                return
            while len(self._keys) >= self._max_parts:
                del self._keys[next(iter(self._keys))]
            self._keys[key] = None


VERIFIED = Verified(16_384)


@dataclass(slots=True)
class Package:
    """An opened, checked office package and the embedded files found inside it."""

    zf: zipfile.ZipFile
    infos: list[zipfile.ZipInfo]
    embedded: list[tuple[str, bytes]] = field(default_factory=list)
    xml: Parts = field(default_factory=Parts)
    """With ``keep_xml``: every guarded XML part by lowercase name (OPC names ignore case)."""


def open_package(
    data: bytes, what: str, where: str, depth: int, walker: Walker, *, keep_xml: bool = False
) -> Package:
    """Run every guard over an office package: member count, overlap, encryption, actual
    decompressed sizes and ratios, and the XML prolog of every part.

    ``keep_xml`` keeps the bytes of the XML parts, so that a reader parses exactly the bytes
    that were checked, without decompressing them a second time.
    """
    budget = walker.budget
    budget.check_depth(depth + 1)
    zf, infos = open_zip(data, what, budget.limits.max_members)
    names = {i.filename.lower() for i in infos}
    if len(names) != len(infos):
        # Two parts of one name: each reader may pick a different one (a parser-differential
        # trick that shows the scanner a harmless part and the recipient the real one).
        raise Uninspectable(f"duplicate part names in {what}")
    package = Package(zf, infos)
    for info in infos:
        if info.is_dir():
            continue
        if encryption(info):
            raise Uninspectable(f"encrypted part in {what}")
        name = info.filename
        embedded = name.startswith(EMBEDDED)
        check_xml = name.endswith((".xml", ".rels", ".vml")) and not embedded
        keep = keep_xml and check_xml
        try:
            packed = plain_packed(data, info)
            key = None if embedded else VERIFIED.key(packed, info, check_xml)
            if key is not None and _verified(key, info, budget):
                if keep:
                    package.xml.keep_packed(name.lower(), packed, info)
                continue
            kept = _check(direct_chunks(packed, info, budget), check_xml, keep or embedded, what)
            if key is not None:
                VERIFIED.add(key)
        except NotPlain:
            kept = _check(stream_member(zf, info, budget), check_xml, keep or embedded, what)
        if embedded:
            package.embedded.append((name, b"".join(kept)))
        elif keep:
            package.xml.keep(name.lower(), kept)
    return package


def _verified(key: _Key, info: zipfile.ZipInfo, budget: Budget) -> bool:
    """Whether this very part passed every check before; if so, it is charged as read."""
    if not VERIFIED.seen(key):
        return False
    check_declared(info, max(info.compress_size, 1), budget.limits)
    budget.add_expanded(info.file_size)
    budget.check_time()
    return True


def _check(chunks: Iterator[bytes], check_xml: bool, keep: bool, what: str) -> list[bytes]:
    """Take a part's chunks through the XML prolog check; the chunks when ``keep``."""
    parser = DefusedXMLParser(target=_Target(), forbid_dtd=True) if check_xml else None
    kept: list[bytes] = []
    for chunk in chunks:
        if keep:
            kept.append(chunk)
        if parser is not None:
            parser = _feed(parser, chunk, what)
    return kept


def _feed(parser: DefusedXMLParser, chunk: bytes, what: str) -> DefusedXMLParser | None:
    try:
        parser.feed(chunk)
    except _RootReached:
        return None
    except defusedxml.DefusedXmlException:
        raise Uninspectable(f"XML with a DTD in {what} (entity bomb or external entity)") from None
    except ParseError as exc:
        raise Uninspectable(f"corrupt {what}: {exc}") from None
    return parser


def visit_embedded(package: Package, where: str, depth: int, walker: Walker) -> None:
    """Extract the files embedded in a document (a workbook pasted into a letter)."""
    for name, content in package.embedded:
        walker.visit(content, f"{where}/{place(name)}", depth + 1, name=name)


def part_texts(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[str]:
    """Text content of one (already guarded) XML part, streamed."""
    with zf.open(info) as part:
        for _event, element in iterparse(part, events=("end",), forbid_dtd=True):
            if element.text and element.text.strip():
                yield element.text.strip()
            element.clear()


def _parts(infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The XML parts that hold a document's text, in reading order (slide2 before slide10)."""
    wanted = []
    for info in infos:
        name = info.filename
        if name in ("content.xml", "styles.xml") or (
            name.endswith(".xml")
            and name.startswith(("ppt/slides/", "ppt/notesSlides/", "word/", "xl/"))
        ):
            wanted.append(info)
    return sorted(wanted, key=lambda i: _natural(i.filename))


def _natural(name: str) -> tuple[str | int, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


class OfficeExtractor:
    """Office files without a dedicated extractor (pptx, odt, odp): the text of their
    content parts, one unit per part: ``deck.pptx#ppt/slides/slide3.xml``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        package = open_package(data, sniffed.label, where, depth, walker)
        with package.zf as zf:
            for info in _parts(package.infos):
                walker.budget.check_time()
                walker.add("\n".join(part_texts(zf, info)), f"{where}#{info.filename}")
        visit_embedded(package, where, depth, walker)
