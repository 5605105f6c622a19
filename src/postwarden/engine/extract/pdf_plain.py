"""Whether a pdf is *plain*: written in a narrow, exact form that pypdf's strict reading is
certain to accept, so that the second reader (pdf.py) need not run.

pypdf in strict mode costs about twice PDFium's reading of a small file (0.6 ms for 3
pages), nearly all of it Python-level parsing of the ~15 objects it visits.  This module reads
the same objects (those pypdf visits, no others) with a few regular expressions (their
tokens in C, `_hsscan.pdf_value`, and each object with the ``endobj`` or ``stream`` after it,
`_hsscan.pdf_object`, where the module is built), and is
stricter than pypdf everywhere: one classic cross-reference table (no earlier revisions, no
cross-reference stream, no encryption) whose every entry points exactly at its ``N 0 obj``;
objects in a conservative grammar (no comments, no ``#`` escapes in names, no nested
parentheses in strings, single spaces in references, no duplicate keys, every reference
followed to an object in use); a stream's ``/Length`` a number, direct or an object of its
own, followed by ``endstream``; a page tree of ``/Pages`` and ``/Page`` nodes with PDFium's
page count; content streams and the fonts' ``/ToUnicode`` and ``/DescendantFonts`` unfiltered
or ``/FlateDecode`` without parameters, decoded to the end.  What does not fit is not an
error: pypdf then reads the file as before, and its verdict stands
(tests/engine/extract/test_pdf_plain.py runs both over every pdf of the tests and their
mutants, and pypdf over every one-byte edit of made pdfs found plain).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import TypeAlias

from postwarden.engine.extract.pdf_hidden import READ_INFO

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: the tokens are read by `_TOKEN`
    _hsscan = None  # type: ignore[assignment]
COMPILED = _hsscan is not None

_MAX_DEPTH = 32
_MAX_DECODED = 16 * 1024 * 1024
"""Decoded bytes of the whole file (and declared bytes of one stream) past which the file is
left to pypdf: its limits are 75 MB a stream and 75 MB a page's array of content streams."""
_MAX_PAGES_NODES = 10_000
_MAX_ELEMENTS = 10_000
"""Elements of one array or dictionary (pypdf's strict reading refuses over 100,000)."""
_MAX_PAGE_ENTRIES = 1_000_000
"""Entries of all page dictionaries, each counted with the 4 attributes it may inherit
(pypdf refuses over 2,000,000 counted so)."""
_INHERITABLE = (b"/Resources", b"/MediaBox", b"/CropBox", b"/Rotate")
_INHERITED = len(_INHERITABLE)
_ENTRIES_TIMED = 4096
"""Cross-reference entries read between two looks at the message's clock (~2 ms of them:
a table may list ten million)."""
_OPENS_TIMED = 1024
"""Arrays and dictionaries opened between two looks at the clock (each holds at most
`_MAX_ELEMENTS` values: ~3 ms of tokens between two looks at most)."""

# A token and the whitespace before it, the most frequent kinds first.  Names, numbers, keywords
# and references must be followed by a delimiter (so ``1.2.3``, ``nullx`` or a name longer
# than the longest matched never split into two tokens where pypdf reads one); strings
# are printable ASCII with simple escapes and no parentheses inside; names are plain
# characters only.
_DELIMITED = rb"(?=[ \t\r\n/\[\]<>])"
_TOKEN = re.compile(
    rb"[ \t\r\n]*+(?:"
    rb"(?P<name>/[A-Za-z0-9_.+\-]{1,127}+)(?=[ \t\r\n/\[\]<>(])"
    rb"|(?P<ref>\d{1,10}) 0 R"
    + _DELIMITED
    + rb"|(?P<int>-?\d{1,10}+)"
    + _DELIMITED
    + rb"|(?P<open><<|\[)|(?P<close>>>|\])"
    rb"|(?P<real>-?(?:\d{1,10}\.\d{0,10}|\.\d{1,10}))"
    + _DELIMITED
    + rb"|(?P<str>\((?:[\x20-\x27\x2a-\x5b\x5d-\x7e]|\\[nrtbf()\\]|\\[0-7]{1,3})*+\))"
    rb"|(?P<hex><[0-9A-Fa-f]*+>)"
    rb"|(?P<kw>true|false|null)" + _DELIMITED + rb")"
)
# ``startxref`` begins a line (pypdf reads the last lines backwards).
_TAIL = re.compile(rb"[ \t\r\n]*\nstartxref(?:\r\n|\n)(\d{1,10})(?:\r\n|\n)%%EOF(?:\r\n|\n)?\Z")
_XREF = re.compile(rb"xref(?:\r\n|\n)0 (\d{1,7})(?:\r\n|\n)")
_ENTRIES = re.compile(rb"(?:\d{10} \d{5} [fn](?: \r| \n|\r\n))*")
_FIRST_ENTRY = b"0000000000 65535 f"
_TRAILER = re.compile(rb"trailer[ \t\r\n]*(?=<<)")
_NOT_IN_TRAILER = frozenset({b"/Prev", b"/XRefStm", b"/Encrypt"})
"""Earlier revisions, a cross-reference stream, encryption: left to pypdf."""
_AFTER_VALUE = re.compile(rb"[ \t\r\n]*(?:(endobj)|stream(?:\r\n|\n))")
_END_STREAM = re.compile(rb"(?:\r\n|\n|\r)?endstream[ \t\r\n]*endobj")
_FLATE = (b"/FlateDecode", [b"/FlateDecode"])
_NOT_DECODED_BY_FILTER = frozenset({b"/DecodeParms", b"/F", b"/FFilter", b"/FDecodeParms"})


class Ref(int):
    """A reference ``N 0 R`` to object N."""

    __slots__ = ()


class Other:
    """A string, hex string, boolean or null: its value does not matter here."""

    __slots__ = ()


OTHER = Other()
Value: TypeAlias = "int | float | bytes | Ref | Other | list[Value] | dict[bytes, Value]"
"""Numbers, names (``b"/Type"``), references, arrays and dictionaries; the rest is ``OTHER``."""


class _NotPlain(Exception):
    """The file is outside the plain form (not necessarily damaged)."""


def plain(data: bytes, pages: int, check_time: Callable[[], None]) -> bool:
    """Whether ``data`` is a plain pdf (see the module) of ``pages`` pages; ``check_time``
    (the message's budget's) is called every so many steps, and what it raises passes.
    `_hsscan.pdf_plain` where the module is built (`_Plain.check` in one call: the Python
    walk cost a 3-page pdf 0.11 ms of its 0.5 in a scan, PDFium's pages having left the
    interpreter's code and objects cold), else `plain_py`."""
    if not COMPILED:
        return plain_py(data, pages, check_time)
    limits = (_MAX_DEPTH, _MAX_DECODED, _MAX_PAGES_NODES, _MAX_PAGE_ENTRIES)
    verdict: bool = _hsscan.pdf_plain(
        data,
        pages,
        check_time,
        Ref,
        OTHER,
        READ_INFO,
        zlib.decompressobj,
        zlib.error,
        (*limits, _ENTRIES_TIMED, _OPENS_TIMED),
    )
    return verdict


def plain_py(data: bytes, pages: int, check_time: Callable[[], None]) -> bool:
    """`plain` in Python, object by object (`_Plain`)."""
    try:
        _Plain(data, check_time).check(pages)
    except (_NotPlain, zlib.error, RecursionError):
        return False
    return True


def _offsets(
    data: bytes, first: int, count: int, check_time: Callable[[], None]
) -> dict[int, int] | None:
    """Where each object in use begins, from the ``count`` entries of the table whose entry
    0 begins at ``first`` (already matched by `_ENTRIES`): each of generation 0 and pointing
    exactly at its ``N 0 obj``, else None (`_hsscan.pdf_offsets` where it is built).  The
    clock is read every `_ENTRIES_TIMED` entries: a table may list ten million."""
    offsets: dict[int, int] = {}
    for number in range(1, count):
        if not number % _ENTRIES_TIMED:
            check_time()
        at = first + 20 * number
        if data[at + 17] == ord("n"):
            offset = int(data[at : at + 10])
            if data[at + 11 : at + 16] != b"00000" or not data.startswith(
                b"%d 0 obj" % number, offset
            ):
                return None
            offsets[number] = offset
    return offsets


class _Plain:
    """One file's cross-reference table, and the objects read through it so far."""

    __slots__ = ("check_time", "data", "decoded", "left", "objects", "offsets", "opened", "streams")

    def __init__(self, data: bytes, check_time: Callable[[], None]) -> None:
        self.data = data
        self.check_time = check_time
        self.opened = 0
        """Arrays and dictionaries opened so far (`_OPENS_TIMED`)."""
        self.offsets: dict[int, int] = {}
        """Where each object in use begins, from the cross-reference table."""
        self.objects: dict[int, Value] = {}
        self.streams: dict[int, bytes] = {}
        """Raw data of the objects read that are streams."""
        self.decoded: set[int] = set()
        """The streams decoded (once: pypdf caches what it decodes)."""
        self.left = _MAX_DECODED
        """Decoded bytes the streams still to decode may have."""

    def check(self, pages: int) -> None:
        data = self.data
        if not data.startswith(b"%PDF-"):
            raise _NotPlain
        tail = _TAIL.search(data, max(0, len(data) - 64))
        if tail is None:
            raise _NotPlain
        trailer = self._xref(int(tail.group(1)), tail.start())
        size = trailer.get(b"/Size")
        if (
            trailer.keys() & _NOT_IN_TRAILER
            or type(size) is not int
            or size != len(self.offsets) + 1
        ):
            raise _NotPlain
        catalog = self._dict(trailer.get(b"/Root"))
        if catalog.get(b"/Type") != b"/Catalog":
            raise _NotPlain
        self._no_more_metadata(catalog, trailer.get(b"/Info"))
        self._no_other_files(catalog)
        found = self._page_tree(catalog.get(b"/Pages"))
        if len(found) != pages:
            raise _NotPlain
        done: set[int] = set()
        for resources in found:
            self._fonts(resources, done)

    def _no_more_metadata(self, catalog: dict[bytes, Value], info: Value | None) -> None:
        """An XMP packet (the catalog's ``/Metadata``) or an Info entry PDFium does not read
        (a custom property) is read where pypdf reads the file (`.pdf_hidden.READ_INFO`):
        such a file is not plain."""
        if b"/Metadata" in catalog:
            raise _NotPlain
        if info is not None and self._dict(info).keys() - READ_INFO:
            raise _NotPlain

    def _no_other_files(self, catalog: dict[bytes, Value]) -> None:
        """Associated files (``/AF``) are read where pypdf reads the file
        (`.pdf_hidden.associated`): a file that names ``/AF`` anywhere but in its catalog, or
        there names a file its name tree (which PDFium reads) does not, is not plain.  fpdf2
        lists each embedded file in both (`/AF [6 0 R]`, ``/Names [(a.txt) 6 0 R]``)."""
        associated = catalog.get(b"/AF")
        if associated is None:
            if b"/AF" in self.data:
                raise _NotPlain
            return
        names = catalog.get(b"/Names")
        tree = names.get(b"/EmbeddedFiles") if type(names) is dict else None
        named = tree.get(b"/Names") if type(tree) is dict else None
        if (
            self.data.count(b"/AF") != 1
            or type(associated) is not list
            or type(named) is not list
            # each a reference before the set is made: an array in /AF was a TypeError
            or not all(type(v) is Ref for v in associated)
            or not set(associated) <= {v for v in named if type(v) is Ref}
        ):
            raise _NotPlain

    def _xref(self, start: int, end: int) -> dict[bytes, Value]:
        """Read the cross-reference table at ``start``, every entry in use pointing exactly
        at its object's ``N 0 obj``; the trailer dictionary, which must end where
        ``startxref`` (at ``end``) begins."""
        data = self.data
        head = _XREF.match(data, start)
        # pypdf's strict reading also wants whitespace before ``xref`` ("Broken xref table").
        if head is None or start == 0 or data[start - 1] not in b"\r\n \t":
            raise _NotPlain
        count = int(head.group(1))
        first = head.end()
        table = first + 20 * count
        if count < 1 or _ENTRIES.fullmatch(data, first, table) is None:
            raise _NotPlain
        if not data.startswith(_FIRST_ENTRY, first):
            raise _NotPlain
        offsets = (
            _hsscan.pdf_offsets(data, first, count, self.check_time, _ENTRIES_TIMED)
            if COMPILED
            else _offsets(data, first, count, self.check_time)
        )
        if offsets is None:
            raise _NotPlain
        self.offsets = offsets
        trailer_at = _TRAILER.match(data, table)
        if trailer_at is None:
            raise _NotPlain
        trailer, after = self._value(trailer_at.end())
        if after != end or not isinstance(trailer, dict):
            raise _NotPlain
        return trailer

    def _object(self, number: int) -> Value:
        """Object ``number``, read where the table says it begins (as pypdf reads only the
        objects it visits, so does this)."""
        value = self.objects.get(number)
        if value is not None:
            return value
        offset = self.offsets.get(number)
        if offset is None:
            raise _NotPlain  # free or missing
        data = self.data
        # ``N 0 obj``: the number's digits and 6 bytes (`_offsets` checked them).
        pos = offset + len(str(number)) + 6
        if COMPILED:
            # The value (`_hsscan.pdf_value`) and what follows it in one call.
            found: tuple[Value, int, int] | None = _hsscan.pdf_object(
                _hsscan.pdf_value, data, pos, Ref, OTHER, self.check_time, _OPENS_TIMED, self.opened
            )
            if found is None:
                raise _NotPlain
            value, start, self.opened = found
        else:
            value, pos = self._tokens(pos)
            after = _AFTER_VALUE.match(data, pos)
            if after is None:
                raise _NotPlain
            start = -1 if after.group(1) else after.end()
        self.objects[number] = value
        if start < 0:
            return value
        if not isinstance(value, dict):
            raise _NotPlain
        length = value.get(b"/Length")
        if isinstance(length, Ref):
            # A stream that is its own length finds its dictionary here: not a number.
            length = self._object(length)
        if type(length) is not int or not 0 <= length <= _MAX_DECODED:
            raise _NotPlain
        if start + length > len(data) or _END_STREAM.match(data, start + length) is None:
            raise _NotPlain
        self.streams[number] = data[start : start + length]
        return value

    def _value(self, pos: int) -> tuple[Value, int]:
        """The value whose first token begins at ``pos`` (after whitespace), and where it
        ends: `_hsscan.pdf_value` (the same loop in C: the tokens were most of the check's
        time), or `_tokens` where it is not built."""
        if not COMPILED:
            return self._tokens(pos)
        found: tuple[Value, int, int] | None = _hsscan.pdf_value(
            self.data, pos, Ref, OTHER, self.check_time, _OPENS_TIMED, self.opened
        )
        if found is None:
            raise _NotPlain
        value, end, self.opened = found
        return value, end

    def _tokens(self, pos: int) -> tuple[Value, int]:
        """`_value` in Python: one loop over the tokens, with a stack of the arrays and
        dictionaries open."""
        data, match = self.data, _TOKEN.match
        open_: list[list[Value] | dict[bytes, Value]] = []
        keys: list[bytes | None] = []
        """Per dictionary open, the key read whose value is still to come."""
        while True:
            token = match(data, pos)
            if token is None:
                raise _NotPlain
            pos, kind = token.end(), token.lastgroup
            value: Value
            if kind == "open":
                if len(open_) == _MAX_DEPTH:
                    raise _NotPlain
                self.opened += 1
                if not self.opened % _OPENS_TIMED:
                    self.check_time()
                open_.append([] if token.group(kind) == b"[" else {})
                keys.append(None)
                continue
            if kind == "close":
                if not open_:
                    raise _NotPlain
                value = open_.pop()
                if keys.pop() is not None or (token.group(kind) == b"]") != (type(value) is list):
                    raise _NotPlain
            elif kind == "name":
                value = token.group(kind)
            elif kind == "ref":
                value = Ref(token.group(kind))
            elif kind == "int":
                value = int(token.group(kind))
            elif kind == "real":
                value = float(token.group(kind))
            else:
                value = OTHER
            if not open_:
                return value, pos
            top, key = open_[-1], keys[-1]
            if len(top) == _MAX_ELEMENTS:
                raise _NotPlain
            if isinstance(top, list):
                top.append(value)
            elif key is not None:
                top[key] = value
                keys[-1] = None
            elif not isinstance(value, bytes) or value in top:
                raise _NotPlain  # a key must be a name; pypdf's strict reading refuses a repeat
            else:
                keys[-1] = value

    def _resolve(self, value: Value | None) -> Value | None:
        return self._object(value) if isinstance(value, Ref) else value

    def _dict(self, value: Value | None) -> dict[bytes, Value]:
        """The dictionary ``value`` is or refers to."""
        found = self._object(value) if isinstance(value, Ref) else value
        if not isinstance(found, dict):
            raise _NotPlain
        return found

    def _page_tree(self, root: Value | None) -> list[Value | None]:
        """The resources of every page, in order, of a tree of ``/Pages`` nodes and ``/Page``
        leaves, every node referred to once, at most ``_MAX_DEPTH`` deep (pypdf's limit is
        100); a page without its own resources has those of its nearest ancestor that has
        some, as pypdf gives them to it."""
        pages: list[Value | None] = []
        seen: set[int] = set()
        entries = 0
        todo: list[tuple[Value | None, int, Value | None]] = [(root, 0, None)]
        while todo:
            ref, depth, inherited = todo.pop()
            if not isinstance(ref, Ref) or ref in seen or depth > _MAX_DEPTH:
                raise _NotPlain
            if len(seen) == _MAX_PAGES_NODES:
                raise _NotPlain
            seen.add(ref)
            node = self._dict(ref)
            kind = node.get(b"/Type")
            resources = node.get(b"/Resources", inherited)
            if kind == b"/Page" and b"/Kids" not in node:
                entries += len(node) + _INHERITED
                if entries > _MAX_PAGE_ENTRIES:
                    raise _NotPlain
                pages.append(resources)
                self._contents(node.get(b"/Contents"))
                continue
            kids = node.get(b"/Kids")
            if kind != b"/Pages" or not isinstance(kids, list):
                raise _NotPlain
            for key in _INHERITABLE:
                # pypdf resolves what a node hands down (a reference to no object is an error
                # in its strict reading), even when every page has its own.
                self._resolve(node.get(key))
            todo.extend((kid, depth + 1, resources) for kid in reversed(kids))
        return pages

    def _contents(self, contents: Value | None) -> None:
        """Decode a page's content streams, as pypdf's second reading does."""
        if contents is None:
            return
        streams = contents if isinstance(contents, list) else [contents]
        if not streams or len(streams) > 100:
            raise _NotPlain
        for stream in streams:
            if not isinstance(stream, Ref):
                raise _NotPlain
            self._object(stream)
            if stream not in self.streams:
                raise _NotPlain
            self._decode(stream)

    def _fonts(self, resources: Value | None, done: set[int]) -> None:
        """Decode the ``/ToUnicode`` and ``/DescendantFonts`` of a page's fonts when they are
        streams, as pypdf's second reading does; a font dictionary shared by pages (``done``:
        the ids of those gone through, all held in ``objects``) only once, as what pypdf
        decodes is cached: 1,000 pages sharing 10,000 fonts would otherwise be 10 million
        steps, with no time check on the way."""
        if resources is None:
            return
        fonts = self._dict(resources).get(b"/Font")
        if fonts is None:
            return
        described_fonts = self._dict(fonts)
        if id(described_fonts) in done:
            return
        done.add(id(described_fonts))
        for font in described_fonts.values():
            described = self._dict(font)
            for key in (b"/ToUnicode", b"/DescendantFonts"):
                target = described.get(key)
                if isinstance(target, Ref):
                    self._object(target)
                    if target in self.streams:
                        self._decode(target)

    def _decode(self, number: int) -> None:
        """Decode stream ``number`` to its end: unfiltered, or deflated without parameters;
        once, and ``_MAX_DECODED`` bytes for all the streams of the file."""
        if number in self.decoded:
            return
        left = self.left
        head = self.objects[number]
        assert isinstance(head, dict)  # noqa: S101 - only dictionaries carry streams
        if head.keys() & _NOT_DECODED_BY_FILTER:
            raise _NotPlain
        method = head.get(b"/Filter")
        raw = self.streams[number]
        if method is None:
            size = len(raw)
        elif method not in _FLATE or left <= 0:  # a max_length of 0 would be no limit
            raise _NotPlain
        else:
            inflate = zlib.decompressobj()
            size = len(inflate.decompress(raw, left))
            if inflate.unconsumed_tail:
                raise _NotPlain
        if size > left:
            raise _NotPlain
        self.decoded.add(number)
        self.left = left - size
