"""Office packages (OOXML and OpenDocument): the package guard shared by the spreadsheet,
docx and generic office extractors, the reader of the parts those extractors leave, and the
generic extractor itself (pptx, odt, others).

An OOXML file is a zip of XML parts, so it gets the zip guards, and every XML part is read up
to its root element with defusedxml first: OOXML forbids DTDs, so a DOCTYPE can only be an
entity bomb ("billion laughs") or an external-entity (XXE) probe, and the file is refused
before calamine or the docx reader ever parse it (a part whose first chunk holds a plain
declaration and the root's whole start tag is checked without the parser: `plain_prolog`).

What is read.  The docx reader reads the main document, the headers and footers its
sections reference, comments, footnotes, endnotes and the parts they import
(``w:altChunk``); calamine reads a workbook's sheets and shared strings; embedded files and
pictures are visited like attachments.  Every other XML part -- document properties
(``docProps/core.xml``: title, subject, author, keywords; ``app.xml``: company, manager;
``custom.xml``), custom XML, glossary, charts and their cached values, SmartArt data, cell
comments, pivot caches, external-link caches, tables, slides, notes, masters, an ODF file's
``meta.xml``, and any part name we never heard of -- is read by `read_rest`, one unit per
part (``letter.docx#docProps/core.xml``).  Only the parts of `TEXT_FREE` (structure and
formatting: content types, styles, theme, fonts, settings, numbering, calc chain) are not
read: text we did not think of is read, never let out unseen.

Why every part is still inflated.  Not inflating the unread parts would let a damaged one
pass: python-docx, Excel and Word read them and refuse (or "repair") a part whose stream or
CRC is bad, and the mutated-documents tests hold every file its own library cannot open.  So
every part is inflated and CRC-checked; what is cheaper is how (`archive.direct_chunks`) and
how often (`VERIFIED`).
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol

# Only for parts that `open_package` checked up to their root element (no DTD can follow).
from xml.etree.ElementTree import Element, ParseError, XMLPullParser, fromstring
from xml.etree.ElementTree import iterparse as checked_iterparse

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser

from postwarden.engine.extract.archive import (
    NotPlain,
    check_declared,
    direct_chunks,
    encryption,
    open_zip,
    packed_members,
    plain_packed,
    stream_member,
)
from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.walker import FILE_NAMES, place
from postwarden.engine.extract.zipdir import Zip

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: every relationships part is parsed
    _hsscan = None  # type: ignore[assignment]
COMPILED = _hsscan is not None

if TYPE_CHECKING:
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

# The parts that hold no user text, by lowercase name: package structure and formatting.  An
# allow-list, so that every part not named here is read (`read_rest`): a part name we never
# heard of is text until shown otherwise.  Not here on purpose: ``*.rels`` (an external
# hyperlink's address is read), ``docProps/*``, ``customXml/item*.xml``, slide masters and
# layouts (a footer typed once for every slide).
TEXT_FREE = re.compile(
    r"\[content_types\]\.xml"
    r"|(?:word|xl|ppt)/theme/theme\d*\.xml"
    r"|word/(?:styles|styleswitheffects|fonttable|websettings|settings|numbering)\.xml"
    r"|xl/(?:styles|calcchain)\.xml"
    r"|ppt/(?:presprops|viewprops|tablestyles)\.xml"
    r"|customxml/itemprops\d*\.xml"
    r"|meta-inf/manifest\.xml|settings\.xml"  # OpenDocument
)
_XML = (".xml", ".rels", ".vml")
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def to_read(name: str) -> bool:
    """Whether a part (lowercase name) is XML whose text some reader reads."""
    return name.endswith(_XML) and not name.startswith(EMBEDDED) and not TEXT_FREE.fullmatch(name)


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
    """Guarded XML parts by lowercase name (those ``open_package`` was asked to keep: not
    the `TEXT_FREE` ones, so not a docx's 780 KB of styles), each kept as the chunks it was
    decompressed in and joined when a reader asks for it.  A part found in `VERIFIED` is
    kept compressed and inflated only when a reader asks."""

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


def judged(
    package: Package,
    info: zipfile.ZipInfo,
    judge: Callable[[bytes], int],
    read: Callable[[bytes], int | None] | None = None,
) -> int:
    """``judge`` of the bytes of a member ``open_package`` checked: what it said of the very
    same part before (`Verified.judgement`: a workbook's theme and styles come with every
    file of a template, and inflating the theme again was most of `grids.check_grids`; a
    kept part is not inflated for it either), else of the kept bytes or the member inflated
    again.  ``read`` may give the verdict of those bytes instead (None where it does not:
    ``judge`` then does)."""
    key = package.keys.get(info.filename)
    if key is not None:
        known = VERIFIED.judgement(key, judge)
        if known is not None:
            return known
    lower = info.filename.lower()
    xml = package.xml[lower] if lower in package.xml else _inflated_again(package, info)
    verdict = None if read is None else read(xml)
    if verdict is None:
        verdict = judge(xml)
    if key is not None:
        VERIFIED.remember(key, judge, verdict)
    return verdict


def _inflated_again(package: Package, info: zipfile.ZipInfo) -> bytes:
    """The bytes of a member ``open_package`` inflated, checked and did not keep, inflated
    again (its declared size: the size it was found to have)."""
    try:
        return _inflate_verified(plain_packed(package.zf.data, info), info)
    except NotPlain:
        with package.zf.open(info) as member:
            return member.read()


def _inflate_verified(packed: bytes, info: zipfile.ZipInfo) -> bytes:
    """A `VERIFIED` part's bytes: its stream up to its declared size, as it was checked."""
    if info.compress_type == zipfile.ZIP_STORED or not info.file_size:
        return packed[: info.file_size]
    return zlib.decompressobj(-15).decompress(packed, info.file_size)


_Key = tuple[bytes, int, int, int, bool, bytes | None]
_NONE: Mapping[str, bytes] = MappingProxyType({})


class Verified:
    """Parts of office packages that were inflated whole and found sound, by everything
    that decided it: a keyed digest of their compressed bytes, their method, CRC, declared
    size, whether their XML prolog was checked, and the marker they were found without
    (``open_package``'s ``keep_marked``: Word's settings without document variables).

    Inflating and CRC-checking every part is what keeps a damaged part from passing unread
    (python-docx and Word read the styles, theme and settings that our readers skip, and a
    part that does not inflate makes the file uninspectable).  It is also most of a docx's
    cost: 790 KB of styles in a 37 KB file.  Documents made from one template carry the very
    same compressed styles and theme, and the same bytes always inflate to the same result,
    so a part whose bytes were checked once is not inflated again: the budget is charged its
    declared size, and the declared-size limits are checked again (they may have changed).

    Only a digest is kept (with a number a judge told of the part's bytes, `judged`), never
    the part: a listener keeps no copy of the mail it passed
    (docs/security.md).  The digest is a 256-bit hash under a secret drawn at start, so no
    part can be crafted to pass as another (a second preimage of it, under a key the sender
    does not know): keyed BLAKE2b, or SHA-256 of the secret followed by the part, whichever
    hashes faster on this processor (`_faster`): hashing is most of what a remembered part
    costs, and SHA-256 with the SHA extensions of most current processors takes half
    BLAKE2b's time (7.5 against 14 us for a template's 13 KB of compressed styles), twice
    it without them.  Bounded to ``max_parts`` digests, the least recently seen forgotten
    first.
    """

    def __init__(self, max_parts: int) -> None:
        self._max_parts = max_parts
        secret = os.urandom(32)
        self._keyed = _faster(hashlib.sha256(secret), hashlib.blake2b(key=secret, digest_size=32))
        """A hash that has taken the secret: each part's digest continues a copy of it."""
        self._keys: dict[_Key, tuple[Callable[[bytes], int], int] | None] = {}
        """Each key, with what a judge of the part's bytes said of it, if one was asked
        (`judged`): the same bytes always get the same verdict."""
        self._lock = threading.Lock()
        self.hits = 0
        """Parts not inflated again, since start."""

    def key(
        self, packed: bytes, info: zipfile.ZipInfo, check_xml: bool, unmarked: bytes | None = None
    ) -> _Key:
        """The key of a part, and of the fact that it does not hold ``unmarked`` when given
        (`open_package`'s ``keep_marked``)."""
        digest = self._keyed.copy()
        digest.update(packed)
        return digest.digest(), info.compress_type, info.CRC, info.file_size, check_xml, unmarked

    def seen(self, key: _Key) -> bool:
        with self._lock:
            if key not in self._keys:
                return False
            self._keys[key] = self._keys.pop(key)  # most recently seen last
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

    def judgement(self, key: _Key, judge: Callable[[bytes], int]) -> int | None:
        """What ``judge`` said of the bytes of the part of ``key``, if it was asked while
        the key is remembered."""
        with self._lock:
            known = self._keys.get(key)
        return known[1] if known is not None and known[0] is judge else None

    def remember(self, key: _Key, judge: Callable[[bytes], int], verdict: int) -> None:
        """That ``judge`` said ``verdict`` of the bytes of the part of ``key``, kept as long
        as the key is (a verdict of another judge is replaced)."""
        with self._lock:
            if key in self._keys:
                self._keys[key] = (judge, verdict)


class _Hash(Protocol):
    """What `Verified` asks of its hash (hashlib's SHA-256 and BLAKE2b states)."""

    def copy(self) -> _Hash: ...

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def _faster(*keyed: _Hash) -> _Hash:
    """Of hashes equally fit for `Verified`, the one that digests 64 KiB fastest here (best
    of three: 0.5 ms once per process)."""
    sample = bytes(64 * 1024)

    def cost(state: _Hash) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            copy = state.copy()
            copy.update(sample)
            copy.digest()
            best = min(best, time.perf_counter() - started)
        return best

    return min(keyed, key=cost)


VERIFIED = Verified(16_384)


@dataclass(slots=True)
class Package:
    """An opened, checked office package and the embedded files found inside it."""

    zf: Zip
    infos: list[zipfile.ZipInfo]
    embedded: list[tuple[str, bytes]] = field(default_factory=list)
    xml: Parts = field(default_factory=Parts)
    """The guarded XML parts ``keep_xml`` chose, by lowercase name (OPC names ignore case)."""
    readable: list[zipfile.ZipInfo] = field(default_factory=list)
    """The members `to_read` names, in the order of ``infos``."""
    trees: dict[str, Element] = field(default_factory=dict)
    """Kept parts parsed whole by `parsed`, by lowercase name."""
    keys: dict[str, _Key] = field(default_factory=dict)
    """The `VERIFIED` key of each part found sound (or known to be), by name (`judged`);
    not of a part kept for the marker it holds (it is not remembered)."""


def parsed(package: Package, name: str) -> Element:
    """The root element of kept part ``name`` (lowercase), parsed once for all its readers
    (a workbook and its relationships have three: the sheets' finders and `read_rest`);
    raises what ``fromstring`` raises, and parses again at each call then.  A part over
    `_TREE_MAX` bytes is not kept parsed (a tree takes ten times its bytes)."""
    root = package.trees.get(name)
    if root is None:
        xml = package.xml[name]
        root = fromstring(xml)  # noqa: S314 -- checked by open_package: no DTD
        if len(xml) <= _TREE_MAX:
            package.trees[name] = root
    return root


def open_package(
    data: bytes,
    what: str,
    where: str,
    depth: int,
    walker: Walker,
    *,
    keep_also: Collection[str] = (),
    keep_not: Collection[str] = (),
    keep_marked: Mapping[str, bytes] = _NONE,
) -> Package:
    """Run every guard over an office package: member count, overlap, encryption, actual
    decompressed sizes and ratios, and the XML prolog of every part.

    The XML parts whose bytes are kept, so that a reader parses exactly the bytes that were
    checked without decompressing them again, are those `to_read` names but ``keep_not``,
    and the XML parts ``keep_also`` names (lowercase names): sets, not a function of the
    name, so that `to_read` is asked once a part (asking it twice, through a chooser that
    asks it too, was a tenth of guarding a workbook's nine parts).
    ``keep_marked`` names parts that no reader reads whole, kept when they hold a marker (a
    byte string: ``{"word/settings.xml": b"docVar"}``) or are UTF-16 (whose ASCII is not
    those bytes); one that does not is remembered so with its digest (`VERIFIED`): the same
    part in the next file is neither inflated nor searched again.
    """
    budget = walker.budget
    budget.check_depth(depth + 1)
    zf, infos = open_zip(data, what, budget.limits.max_members)
    lowers = [i.filename.lower() for i in infos]
    if len(set(lowers)) != len(infos):
        # Two parts of one name: each reader may pick a different one (a parser-differential
        # trick that shows the scanner a harmless part and the recipient the real one).
        raise Uninspectable(f"duplicate part names in {what}")
    package = Package(zf, infos)
    kept, readable, keys = package.xml, package.readable, package.keys
    # Per package, not per part: every member's compressed bytes in one compiled call, and
    # the bound methods looked up once.
    key_of, seen, add = VERIFIED.key, VERIFIED.seen, VERIFIED.add
    for info, lower, packed in zip(infos, lowers, packed_members(data, infos), strict=True):
        if info.is_dir():
            continue
        if encryption(info):
            raise Uninspectable(f"encrypted part in {what}")
        name = info.filename
        embedded = name.startswith(EMBEDDED)
        # Any case: ``docProps/x.XML`` is read (`read_rest`), so it is checked too.
        check_xml = not embedded and lower.endswith(_XML)
        read = check_xml and to_read(lower)
        if read:
            readable.append(info)
        keep = (read and lower not in keep_not) or (check_xml and lower in keep_also)
        marker = keep_marked.get(lower) if check_xml and not keep else None
        hold = keep or embedded or marker is not None
        try:
            if packed is None:
                raise NotPlain
            key = None if embedded else key_of(packed, info, check_xml, marker)
            if key is not None and seen(key):
                # This very part passed every check before: charged as read.
                check_declared(info, max(info.compress_size, 1), budget.limits)
                budget.add_expanded(info.file_size)
                budget.check_time()
                if keep:
                    kept.keep_packed(lower, packed, info)
                keys[name] = key
                continue
            chunks = _check(direct_chunks(packed, info, budget), check_xml, hold, what)
            marked = not keep and _marked(chunks, marker)
            keep = keep or marked
            if key is not None and not marked:
                # a marked part is not remembered: it is read again each time
                add(key)
                keys[name] = key
        except NotPlain:
            chunks = _check(stream_member(zf, info, budget), check_xml, hold, what)
            keep = keep or _marked(chunks, marker)
        if embedded:
            package.embedded.append((name, b"".join(chunks)))
        elif keep:
            kept.keep(lower, chunks)
    return package


def _marked(chunks: list[bytes], marker: bytes | None) -> bool:
    """Whether a part searched for ``marker`` holds it, or is UTF-16 (a NUL in its first
    four bytes: ASCII names are other bytes there; every other encoding expat reads writes
    them in ASCII)."""
    if marker is None:
        return False
    xml = b"".join(chunks)
    return marker in xml or b"\x00" in xml[:4]


def _check(chunks: Iterator[bytes], check_xml: bool, keep: bool, what: str) -> list[bytes]:
    """Take a part's chunks through the XML prolog check; the chunks when ``keep``.  A first
    chunk that holds a plain prolog and the root's whole start tag, one expat takes, needs
    no parser (`plain_prolog`)."""
    parser: DefusedXMLParser | None = None
    kept: list[bytes] = []
    for chunk in chunks:
        if keep:
            kept.append(chunk)
        if check_xml:
            check_xml = False
            if not plain_prolog(chunk):
                parser = DefusedXMLParser(target=_Target(), forbid_dtd=True)
        if parser is not None:
            parser = _feed(parser, chunk, what)
    return kept


def plain_prolog(chunk: bytes) -> bool:
    """Whether a part's first chunk holds, in the plain form office programs write, its XML
    declaration and its root element's start tag, with nothing there that expat refuses
    (`_hsscan.plain_prolog`): no DTD can follow, and the defusedxml parser of `_check`
    would stop at that tag having refused nothing (making it cost 56 us a part).  False
    where the module is not built: the part is then checked by the parser."""
    return _hsscan.plain_prolog(chunk) if COMPILED else False


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
        walker.name(f"{where}#{FILE_NAMES}", name)
        walker.visit(content, f"{where}/{place(name)}", depth + 1, name=name)


def part_texts(source: bytes | IO[bytes], root: Element | None = None) -> Iterator[str]:
    """Text of one guarded XML part: the text of its elements (and between them) and the
    attributes that hold values: a pivot cache's items (``<s v="Chan Tai Man"/>``, not
    ``<x v="0"/>``, an index), the names of table columns, cache fields and custom
    properties, people's display names and sign-in ids, the authors of Word's comments and
    tracked changes, pictures' and shapes' alt text, an external relationship's address.

    Each element's own after its children's (the order elements end in).  A part of up to
    `_TREE_MAX` bytes is parsed whole (`_tree_texts`, a C parse: a third of the CPU of
    ``iterparse`` for the few small parts of a docx), a larger one or a stream streamed.
    A part with no text between its tags, no CDATA section and none of the attributes read
    is not parsed at all; nor one whose ``root`` is given (``fromstring(source)``, `parsed`).
    A small part in the plain form office programs write is read without a parse
    (`_hsscan.plain_texts`: a docx's document properties cost 55 us parsed and walked),
    its ``root`` given or not: walking a workbook's tree in Python cost more than reading
    its bytes again in C."""
    no_data = _NO_DATA.fullmatch
    for text in _texts(source, root):
        if not no_data(text):
            yield text


def _texts(source: bytes | IO[bytes], root: Element | None) -> Iterable[str]:
    """`part_texts` before the `_NO_DATA` lines are dropped."""
    if isinstance(source, bytes):
        if len(source) <= _TREE_MAX:
            plain = _hsscan.plain_texts(source) if COMPILED else None
            if plain is not None:
                return plain
            if not may_hold_text(source):
                return ()  # most relationship and custom XML parts: nothing to parse
            return _tree_texts(fromstring(source) if root is None else root)  # noqa: S314
        if not may_hold_text(source):
            return ()
        source = io.BytesIO(source)
    return _streamed(source)


def kept_lines(texts: Iterable[str]) -> list[str]:
    """Texts kept as `part_texts` keeps its lines (stripped, neither blank nor `_NO_DATA`),
    and each once, in the order first met (`part_texts` keeps repeats)."""
    no_data = _NO_DATA.fullmatch
    stripped = (text.strip() for text in texts)
    return list(dict.fromkeys(t for t in stripped if t and not no_data(t)))


# Values that cannot be personal data: a flag, a count, a version of at most four digits
# (``docProps/app.xml``: ``false``, pages ``1``, ``14.0000``).  Every line of text costs the
# register matcher a lookup, and adjacent short lines are joined as addresses.
_NO_DATA = re.compile(r"true|false|\d{1,4}(?:\.\d+)?")


def _streamed(stream: IO[bytes]) -> Iterator[str]:
    """`_own` of every element of a part too large to parse whole, as the elements end."""
    for _event, element in checked_iterparse(stream, ("end",)):  # noqa: S314
        yield from _own(element)
        # A child's tail (text after it, before its parent ends) may be parsed after the
        # child's end event: it is read at the parent's, and kept when the child is cleared.
        tail = element.tail
        element.clear()
        element.tail = tail


def pulled(xml: bytes) -> Iterator[tuple[Any, ...]]:
    """What ``iterparse(io.BytesIO(xml), ("start", "end"))`` yields (and raises), at the
    same points: the same 16 KiB steps fed to the same pull parser.  Written out because
    ``iterparse`` makes a class (an ABC subclass) at every call: 12 us, most of reading a
    short part."""
    parser: XMLPullParser[Element] = XMLPullParser(("start", "end"))
    for start in range(0, len(xml), _ITERPARSE_STEP):
        parser.feed(xml[start : start + _ITERPARSE_STEP])
        yield from parser.read_events()
    parser.close()
    yield from parser.read_events()


_ITERPARSE_STEP = 16 * 1024
"""The bytes ``iterparse`` reads from its source at a time (Python 3.11)."""
_TREE_MAX = 256 * 1024
_WORD = (
    "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}",
    "{http://purl.oclc.org/ooxml/wordprocessingml/main}",
)
"""Word's namespace, Transitional and Strict."""
_W15 = "{http://schemas.microsoft.com/office/word/2012/wordml}"
AUTHORS = tuple(f"{ns}author" for ns in _WORD)
"""Who made a Word comment or tracked change (``w:ins``, ``w:del``, ``w:rPrChange``...)."""
ALT_TEXT = ("descr", "title", "alt")
"""A picture's or shape's alt text (``wp:docPr``, ``p:cNvPr``, ``xdr:cNvPr``; VML's
``alt``)."""
# The attributes read, in this order (``v`` but that of ``<x>``, an index).
_VALUES = (
    "v",
    "name",
    "displayName",
    *ALT_TEXT,
    "userId",  # xl/persons, ppt/authors.xml: a sign-in address
    *AUTHORS,
    f"{_W15}author",  # word/people.xml
    f"{_W15}userId",
)
_READ = frozenset((*_VALUES, "TargetMode"))


def may_hold_text(xml: bytes) -> bool:
    """Whether a part may hold text: text between tags, CDATA, or an attribute that is read
    (a ``>`` in an attribute value or a UTF-16 part only makes it parsed).

    Each search begins with a literal, which ``re`` finds with a fast scan for its first
    character; a pattern that begins with an alternation or a class (``\\s``) is tried at
    every byte (a relationships part: 12 us, now 2-3).  The attributes are found at their
    ``=`` (`_READ_ATTRIBUTE`: one scan, what stands before each ``=`` checked in C), which
    is exact when no whitespace stands before an ``=``, as every office program writes
    them; else each name is searched for, and the whitespace before it checked at every
    match (`_spaced_attribute`)."""
    if _TEXT_BETWEEN.search(xml) or b"<![CDATA[" in xml:
        return True
    if _SPACED_EQUALS.search(xml) is None:
        return _READ_ATTRIBUTE.search(xml) is not None
    return _spaced_attribute(xml)


def _spaced_attribute(xml: bytes) -> bool:
    """Whether an attribute that is read stands in a part, whitespace before ``=`` or not."""
    for attribute, before in _VALUE_ATTRIBUTES:
        for found in attribute.finditer(xml):
            start = found.start()
            if start and xml[start - 1] in before:
                return True
    return False


_TEXT_BETWEEN = re.compile(rb">\s*+[^<\s]")
_SPACE = frozenset(b" \t\n\r\x0b\x0c")
"""What ``\\s`` matches in a bytes pattern."""
# The names of the attributes read, each with what may stand before it (as a pattern and
# as bytes): whitespace, or for a name read with a prefix (``w:author``) its colon too.
_NAMES_BEFORE = (
    (("v", "name", "displayName", *ALT_TEXT, "TargetMode"), rb"\s", _SPACE),
    (("author", "userId"), rb"[\s:]", _SPACE | {ord(":")}),
)
_SPACED_EQUALS = re.compile(rb"=(?<=\s=)")
_READ_ATTRIBUTE = re.compile(
    rb"=(?:%s)"
    % b"|".join(
        rb"(?<=%s%s=)" % (before, name.encode())
        for names, before, _bytes in _NAMES_BEFORE
        for name in names
    )
)
# Two matches of one of these cannot overlap (no match ends with the start of another), so
# ``finditer`` misses no place where one begins.
_VALUE_ATTRIBUTES = tuple(
    (re.compile(rb"%s\s*+=" % name.encode()), before)
    for names, _pattern, before in _NAMES_BEFORE
    for name in names
)


def _tree_texts(root: Element) -> list[str]:
    """`_own` of every element of a parsed part, in the order `part_texts` streams them: an
    element after its children (without recursion: a deep part must not exhaust the stack).
    Written out (`_own` inlined, into one list): half the CPU of a generator per element.
    A leaf (most elements: ``<Company>Acme</Company>``) is read where it is met, without
    going on the stack (half the time of a document's properties)."""
    out: list[str] = []
    stack = [(root, iter(root))]
    while stack:
        element, children = stack[-1]
        child = next(children, None)
        if child is not None:
            if len(child):
                stack.append((child, iter(child)))
                continue
            element = child  # no children: its own values and text, its tail with its parent's
        else:
            stack.pop()
        if element.attrib and not _READ.isdisjoint(element.attrib):
            out.extend(_values(element))
        text = element.text
        if text and not text.isspace():
            out.append(text.strip())
        for child in element:
            tail = child.tail
            if tail and not tail.isspace():
                out.append(tail.strip())
    return out


def _own(element: Element) -> Iterator[str]:
    """An element's values, its text, then the tails of its children."""
    if element.attrib and not _READ.isdisjoint(element.attrib):
        yield from _values(element)
    text = element.text
    if text and not text.isspace():
        yield text.strip()
    for child in element:
        tail = child.tail
        if tail and not tail.isspace():
            yield tail.strip()


def _values(element: Element) -> Iterator[str]:
    attrib = element.attrib
    if attrib.get("TargetMode") == "External":
        yield attrib.get("Target", "")
    for key in _VALUES:
        value = attrib.get(key)
        if value and not value.isspace() and not (key == "v" and element.tag.endswith("}x")):
            yield value.strip()


def read_rest(
    package: Package, done: Collection[str], what: str, where: str, walker: Walker
) -> None:
    """Read every XML part that the format's own reader did not (``done``, lowercase names)
    and that `TEXT_FREE` does not name, one unit per part in name order:
    ``letter.docx#docProps/core.xml``.  Kept parts are parsed from the bytes that were
    checked; a part not kept (a worksheet no sheet of the workbook names) is inflated again."""
    infos = [i for i in package.readable if i.filename.lower() not in done]
    no_data = _NO_DATA.fullmatch
    for info in sorted(infos, key=lambda i: _natural(i.filename)):
        name = info.filename.lower()
        walker.budget.check_time()
        try:
            if name in package.xml:
                xml = _vml(name, package.xml[name])
                # `part_texts` as a list: no generator made and run for each part
                texts = _texts(xml, package.trees.get(name))
                text = "\n".join([t for t in texts if not no_data(t)])
            else:
                with package.zf.open(info) as part:
                    text = "\n".join(part_texts(part))
        except ParseError as exc:
            raise Uninspectable(f"corrupt {what}: {info.filename}: {exc}") from None
        walker.add(text, f"{where}#{info.filename}")


def _vml(name: str, xml: bytes) -> bytes:
    """Excel 2007 writes HTML's ``<br>`` into the VML of its form controls and notes, which
    makes the part no well-formed XML; Excel and Apache POI read it as ``<br/>``."""
    return xml.replace(b"<br>", b"<br/>") if name.endswith(".vml") else xml


def relationships(package: Package, source: str, what: str) -> list[tuple[str, str, str]]:
    """``(id, type, part name)`` of the internal relationships of part ``source`` (lowercase
    names; ``""`` is the package itself)."""
    folder, name = posixpath.split(source)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels not in package.xml:
        return []
    found = plain_relationships(package.xml[rels])
    if found is None:
        try:
            found = parsed_relationships(parsed(package, rels))
        except ParseError as exc:
            raise Uninspectable(f"corrupt {what}: relationships: {exc}") from None
    out = []
    plain_folder = not folder or _PLAIN_PATH.fullmatch(folder) is not None
    for rel in found:
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External" or not target:
            continue
        name = part_name(folder, target, plain_folder)
        out.append((rel.get("Id", ""), rel.get("Type", ""), name))
    return out


def parsed_relationships(root: Element) -> list[dict[str, str]]:
    """The attributes of every ``Relationship`` element of a parsed relationships part."""
    return [rel.attrib for rel in root.iter(_RELS)]


def plain_relationships(xml: bytes) -> list[dict[str, str]] | None:
    """`parsed_relationships` of a part in the one form office programs write, read by
    `_hsscan.plain_relationships` (parsing cost a docx's two parts 30 us); None for any
    other part, or where the module is not built: the part is then parsed."""
    return _hsscan.plain_relationships(xml) if COMPILED else None


def part_name(folder: str, target: str, plain_folder: bool) -> str:
    """The lowercase part name a relationship's target names from ``folder`` (the folder of
    its source part; ``plain_folder``: it is `_PLAIN_PATH`).  A plain target from a plain
    folder is already what ``posixpath.normpath`` would make of it (no ``.``, ``..`` or
    empty segment): joined by hand, a third of the cost of a docx's relationships."""
    if target.startswith("/"):
        path = target[1:]
        if _PLAIN_PATH.fullmatch(path):
            return path.lower()
    else:
        if plain_folder and _PLAIN_PATH.fullmatch(target):
            return f"{folder}/{target}".lower() if folder else target.lower()
        path = posixpath.join(folder, target)
    return posixpath.normpath(path).lower()


# A relative path that ``posixpath.normpath`` leaves as it is: segments, none empty, ``.`` or
# ``..``, between single slashes.
_PLAIN_PATH = re.compile(r"(?!\.\.?(?:/|\Z))[^/]+(?:/(?!\.\.?(?:/|\Z))[^/]+)*")


def _natural(name: str) -> tuple[str | int, ...]:
    # A compiled pattern and a list, not ``re.split``'s cache lookup and a generator: a
    # docx's seven parts sorted in 5.5 us, not 8.7.
    return tuple([int(t) if t.isdigit() else t for t in _DIGITS.split(name)])


_DIGITS = re.compile(r"(\d+)")


class OfficeExtractor:
    """Office files without a dedicated extractor (pptx, odt, odp): the text of every part
    that holds text (`read_rest`), one unit per part: ``deck.pptx#ppt/slides/slide3.xml``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        package = open_package(data, sniffed.label, where, depth, walker)
        with package.zf:
            read_rest(package, (), sniffed.label, where, walker)
        visit_embedded(package, where, depth, walker)
