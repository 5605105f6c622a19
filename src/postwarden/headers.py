"""Header values, display names and addresses, decoded the way a mail client shows them.

The one decoder every layer uses (engine, CLI, console, notices). It never raises, whatever
it is given (str or bytes, surrogate escapes, NULs, megabytes): an encoded-word that cannot
be decoded is shown as its raw text and named in the defects, as Thunderbird and mutt do.

Written here rather than taken from the stdlib because each stdlib way fails us on 3.11:
``email.header.decode_header`` raises ``HeaderParseError`` for the whole value when one
encoded-word holds bad base64 (``Subject: =?utf-8?B?abcde?=`` stopped the engine), and
``make_header`` raises on unknown charsets; the policy.default header classes crash on some
values (a group such as ``To: unlisted-recipients:;``) and parse long ones in superlinear
time. RFC 2047 decoding itself is small: a linear scan for encoded-words, base64 or Q, a
charset.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import TypeGuard

__all__ = [
    "HEADER_POLICY",
    "Decoded",
    "HeaderClasses",
    "Mailbox",
    "Mailboxes",
    "address_fields",
    "addresses",
    "decode",
    "decoded_text",
    "header_class",
    "header_of",
    "header_table",
    "header_text",
    "header_values",
    "mailboxes",
]


_HEADER_CLASSES: dict[tuple[type, type], type[BaseHeader]] = {}


def header_class(registry: HeaderRegistry, name: str) -> type[BaseHeader]:
    """``HeaderRegistry.__getitem__``, making each header class once per process.

    The stdlib's builds a new class with ``type()`` for every header it parses (tens of
    microseconds, and a cycle for the collector each time): four to six of them per
    message.  The class depends only on the registered class and the base class and holds
    no state, so one of each is the same class.
    """
    cls = registry.registry.get(name.lower(), registry.default_class)
    key = (cls, registry.base_class)
    made = _HEADER_CLASSES.get(key)
    if made is None:
        made = _HEADER_CLASSES[key] = HeaderRegistry.__getitem__(registry, name)
    return made


class HeaderClasses(HeaderRegistry):
    """policy.default's header registry, with :func:`header_class`."""

    __getitem__ = header_class


HEADER_POLICY = policy.default.clone(header_factory=HeaderClasses())
"""policy.default with :class:`HeaderClasses`: the same parsing, without a class per header."""

# RFC 2047 §2: =?charset?encoding?encoded-text?= ; no part may hold "?" or white space, so
# every repetition stops at the next "?" and one scan of the value is linear in its length.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([BbQq])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ESCAPED = re.compile("[\udc80-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_ESCAPE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK_OR_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BAD_QP_ESCAPE = re.compile(r"=(?![0-9A-Fa-f]{2})")
_WHITESPACE = re.compile(r"[ \t]*")
# The policy parser is superlinear (0.8 s for a 135 KB To: in the corpus): longer values
# are scanned for addr-specs instead, and their display names are not read.
_PARSED_HEADER_CHARS = 8192
# An addr-spec begins where a run of its characters begins (a match can begin nowhere else: each
# start inside a run reaches the same end), and the run is taken whole (``++``); without both,
# a run with no "@" was tried from each of its characters: a 100 KB To: of one word took 40 s.
_ADDR_SPEC = re.compile(r"(?<![^\s<>()\[\],;:\"@])[^\s<>()\[\],;:\"@]++@[^\s<>()\[\],;:\"@]+")
# Most address headers are as plain as ``Name <local@domain>`` or ``"Chan, Tai Man"
# <local@domain>``, yet the policy parser takes 50-90 µs on each.  A value that is wholly a
# list of such mailboxes, in this strict subset of RFC 5322, is read by one expression: atoms
# of letters, digits and atext punctuation; a quoted name without backslashes; no "=" or "?"
# (so no encoded-word), no comments, groups, routes, literals, folding or 8-bit bytes.
# Those parse to the same addr-specs and display names in the stdlib parsers (compared in
# tests/test_headers.py); any other value still goes to them.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}++(?:\.{_ATEXT}++)*+"
_PLAIN_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_PLAIN_MAILBOX = re.compile(
    rf"[ \t]*+(?:"
    rf"(?:(?P<atoms>{_ATEXT}++(?:[ \t]++{_ATEXT}++)*+)|\"(?P<quoted>[ !#-'*-.0-9A-Z^-~]*+)\")?+"
    rf"[ \t]*+<(?P<angled>{_PLAIN_SPEC})>|(?P<bare>{_PLAIN_SPEC}))[ \t]*+"
)
# Mail user agents label text with a charset whose superset they really used.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}
# Codecs that are no charset a sender could mean, and slow or lossy on hostile input
# (punycode decodes in quadratic time; the escape codecs make lone surrogates).
_NOT_CHARSETS = frozenset({"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined"})
_DETECT_SAMPLE = 64 * 1024
_GUESSES = ("big5hkscs", "gb18030", "cp1252")
_UNKNOWN_8BIT = frozenset({"unknown-8bit", "x-unknown", "unknown"})

INVALID_BASE64 = "invalid base64 encoded-word shown as raw text"
INVALID_QP = "invalid quoted-printable encoded-word shown as raw text"
UNKNOWN_CHARSET = "encoded-word in an unknown charset"
BAD_BYTES = "bytes not valid in their declared charset"
UNDECLARED_8BIT = "8-bit bytes in an undeclared charset"
CONTROLS = "control characters"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A header value as text, and what was wrong with it (no header content in those)."""

    text: str
    defects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address of an address header and its decoded display name (``""`` when none)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Mailboxes:
    """The mailboxes of address headers, and the defects their display names had."""

    items: tuple[Mailbox, ...] = ()
    defects: tuple[str, ...] = field(default=())


def decode(value: str | bytes | None, name: str = "") -> Decoded:
    """``value`` unfolded and RFC 2047 decoded; never raises.

    Raw 8-bit bytes (``bytes``, or surrogate escapes as the stdlib parser leaves them) read
    as utf-8, else as charset-normalizer guesses. Each defect is prefixed ``"{name}: "``.
    """
    if _as_it_is(value):
        return Decoded(value)
    defects: list[str] = []
    try:
        text = _decode(value, defects)
    # Every path above is meant to be total; should one ever raise, the value is still shown.
    except Exception:
        defects.append("undecodable header")
        text = _printable(repr(value), [])
    prefix = f"{name}: " if name else ""
    return Decoded(text, tuple(dict.fromkeys(prefix + d for d in defects)))


def _as_it_is(value: object) -> TypeGuard[str]:
    """Whether ``value`` is text with nothing to decode, shown as it is.  Most values (a
    Message-ID, a plain subject or name) hold no encoded-word and no 8-bit byte; those
    without a line break or a control character the full decode would show unchanged."""
    return (
        isinstance(value, str)
        and value.isascii()
        and "=?" not in value
        and not _LINE_BREAK_OR_CONTROL.search(value)
    )


def decoded_text(value: str | bytes | None, name: str, defects: list[str]) -> str:
    """``decode(value, name).text``, its defects added to ``defects``; a value with nothing
    to decode is its own text (no ``Decoded`` made: a message's subject and names)."""
    if _as_it_is(value):
        return value
    decoded = decode(value, name)
    defects.extend(decoded.defects)
    return decoded.text


def header_text(value: str | bytes | None) -> str:
    """``decode(value).text``: where only the text is wanted."""
    return decode(value).text


def header_values(msg: Message, name: str) -> list[str]:
    """Every raw value of header ``name`` of a parsed message, as the parser read them.

    ``raw_items()`` never builds policy.default header objects, whose parsing crashes on
    some values on 3.11; a compat32 ``Header`` (a value set by a program) becomes its text.
    """
    lname = name.lower()
    return [_raw_text(value) for key, value in msg.raw_items() if key.lower() == lname]


def header_table(msg: Message) -> dict[str, list[str]]:
    """:func:`header_values` of every header at once, by lowercase name: one pass over the
    headers for a caller that reads several of them."""
    table: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        text = value if type(value) is str else _raw_text(value)
        name = key.lower()
        if name in table:
            table[name].append(text)
        else:
            table[name] = [text]
    return table


def _raw_text(value: object) -> str:
    """A raw header value as the parser read it; a compat32 ``Header`` becomes its text."""
    return value if isinstance(value, str) else _safe_str(value)


def header_of(raw: bytes, name: str) -> Decoded:
    """The first ``name`` header of a whole message's bytes, decoded; ``""`` when it has none
    or its header block cannot be read at all."""
    try:
        values = header_values(BytesHeaderParser(policy=policy.compat32).parsebytes(raw), name)
    except Exception:  # the compat32 header parser is not known to raise; never let it
        return Decoded("", ("unreadable header block",))
    return decode(values[0], name) if values else Decoded("")


def addresses(values: Iterable[str], name: str = "To") -> tuple[str, ...]:
    """The addr-specs of every value of address header ``name``, in order, without duplicates."""
    found: list[str] = []
    for raw in values:
        value = raw if isinstance(raw, str) else _safe_str(raw)
        found.extend(_addr_specs(value, name, _plain_mailboxes(value)))
    return tuple(dict.fromkeys(found))


def _addr_specs(value: str, name: str, plain: list[tuple[str, str]] | None) -> list[str]:
    """The addr-specs of one value of address header ``name``; ``plain``: what
    :func:`_plain_mailboxes` made of it."""
    specs = [spec for _, spec in plain] if plain is not None else None
    # Both the policy parser and the legacy getaddresses() raise on hostile values
    # (IndexError, RecursionError, HeaderParseError): those are scanned for addr-specs.
    if specs is None and len(value) <= _PARSED_HEADER_CHARS:
        try:
            header = HEADER_POLICY.header_fetch_parse(name, value)
            specs = [str(a.addr_spec) for a in getattr(header, "addresses", ())]
        except Exception:
            specs = None
    if specs is None:
        specs = _ADDR_SPEC.findall(value)
    # Raw 8-bit bytes in an address (surrogate escapes, which cannot be printed) read as
    # utf-8; no guessing here, a guessed multibyte charset would swallow the "@".
    return [(s if s.isascii() else utf8_text(s)).strip() for s in specs if "@" in s]


_NO_MAILBOXES = Mailboxes()


def mailboxes(values: Iterable[str], name: str = "") -> Mailboxes:
    """Each mailbox of the values with its display name decoded; never raises.

    Names are a hint (recipient checks, display), not worth parsing a hostile header for:
    values over 8 KiB are skipped (their addresses are read by :func:`addresses`).
    """
    items: list[Mailbox] = []
    defects: list[str] = []
    for raw in values:
        value = raw if isinstance(raw, str) else _safe_str(raw)
        if len(value) <= _PARSED_HEADER_CHARS:
            _add_mailboxes(value, name, _plain_mailboxes(value), items, defects)
    return Mailboxes(tuple(items), tuple(dict.fromkeys(defects)))


def address_fields(values: Iterable[str], name: str) -> tuple[tuple[str, ...], Mailboxes]:
    """``(addresses(values, name), mailboxes(values, name))``, each value split once for
    both when it is plain mailboxes (most are; a message's From, To and Cc are read for
    both)."""
    if not values:  # (most messages have no Cc)
        return (), _NO_MAILBOXES
    found: list[str] = []
    items: list[Mailbox] = []
    defects: list[str] = []
    for raw in values:
        value = raw if isinstance(raw, str) else _safe_str(raw)
        plain = _plain_mailboxes(value)
        found.extend(_addr_specs(value, name, plain))
        if len(value) <= _PARSED_HEADER_CHARS:
            _add_mailboxes(value, name, plain, items, defects)
    unique = tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)
    return unique, Mailboxes(tuple(items), tuple(dict.fromkeys(defects)) if defects else ())


def _add_mailboxes(
    value: str,
    name: str,
    pairs: list[tuple[str, str]] | None,
    items: list[Mailbox],
    defects: list[str],
) -> None:
    """Add the mailboxes of one value (of at most 8 KiB) to ``items``, what was wrong with
    their names to ``defects``; ``pairs``: what :func:`_plain_mailboxes` made of it."""
    if pairs is None:
        try:
            pairs = getaddresses([value])
        # The legacy parser raises IndexError/RecursionError on some values: no names.
        except Exception:  # its addresses are read by addresses()
            return
    for display, address in pairs:
        if "@" not in address:
            continue
        text = decoded_text(display, name, defects) if display else ""
        items.append(Mailbox(" ".join(text.split()), address))


def _plain_mailboxes(value: str) -> list[tuple[str, str]] | None:
    """(display name, addr-spec) of each mailbox when ``value`` is only plain mailboxes
    separated by commas (see ``_PLAIN_MAILBOX``), as ``getaddresses`` gives them; else ``None``."""
    if len(value) > _PARSED_HEADER_CHARS:
        return None
    pairs: list[tuple[str, str]] = []
    position, end = 0, len(value)
    while True:
        found = _PLAIN_MAILBOX.match(value, position)
        if found is None:
            return None
        atoms, quoted, angled, bare = found.group("atoms", "quoted", "angled", "bare")
        if bare is not None:
            pairs.append(("", bare))
        else:
            name = " ".join(atoms.split()) if atoms is not None else quoted or ""
            pairs.append((name, angled))
        position = found.end()
        if position == end:
            return pairs
        if value[position] != ",":
            return None
        position += 1


def utf8_text(text: str) -> str:
    """``text`` with its raw 8-bit bytes (surrogate escapes of the bytes parser) read as UTF-8,
    bytes that are none replaced, as ``email.utils._sanitize`` reads a header's (and any
    other lone surrogate replaced, where that would raise)."""
    if not _SURROGATE.search(text):
        return text
    cleaned = _NOT_ESCAPE.sub("\ufffd", text)
    return cleaned.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return ""


def _decode(value: str | bytes | None, defects: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        text = _from_bytes(bytes(value), defects)
    else:
        text = value if isinstance(value, str) else _safe_str(value)
        if _SURROGATE.search(text):
            text = _unescaped(text, defects)
    text = _FOLD.sub("", text)
    return _printable(_words(text, defects), defects)


def _unescaped(text: str, defects: list[str]) -> str:
    """Surrogate escapes (the stdlib parser's raw 8-bit bytes) back to bytes, then text."""
    if not _ESCAPED.search(text):
        return _SURROGATE.sub("\ufffd", text)
    # Lone surrogates that are not escapes cannot be bytes: they become U+FFFD first.
    cleaned = _NOT_ESCAPE.sub("\ufffd", text)
    return _from_bytes(cleaned.encode("utf-8", "surrogateescape"), defects)


def _from_bytes(data: bytes, defects: list[str]) -> str:
    """Undeclared bytes: utf-8 (RFC 6532), else the likeliest of the charsets our senders
    use (charset-normalizer's guess among them: a guess among all is wrong on a few
    words), else windows-1252 as mail clients fall back to, else latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    defects.append(UNDECLARED_8BIT)
    # Imported here: ~10 ms of every start, for the few messages with undeclared 8-bit text.
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_DETECT_SAMPLE], cp_isolation=list(_GUESSES)).best()
    for encoding in (best.encoding if best is not None else "", "cp1252"):
        if encoding:
            try:
                return data.decode(encoding)
            except (UnicodeError, LookupError):
                continue
    return data.decode("latin-1")


def _words(text: str, defects: list[str]) -> str:
    """Encoded-words decoded; white space between two decoded words dropped (RFC 2047 §6.2),
    and adjacent words of one charset joined as bytes first, since senders split a multibyte
    character across two words."""
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    position = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(_charset_text(b"".join(pending), pending_charset, defects))
            pending.clear()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        data = _word_bytes(match, defects)
        position = match.end()
        if data is None:  # shown as it came
            flush()
            out.append(gap)
            out.append(match.group(0))
            continue
        charset = match.group(1).split("*", 1)[0].lower()
        joined = bool(pending) and _WHITESPACE.fullmatch(gap) is not None
        if not joined:
            flush()
            out.append(gap)
        elif charset != pending_charset:
            flush()  # the gap between two decoded words is dropped
        pending.append(data)
        pending_charset = charset
    flush()
    out.append(text[position:])
    return "".join(out)


def _word_bytes(match: re.Match[str], defects: list[str]) -> bytes | None:
    """The bytes of one encoded-word, or ``None`` (with a defect) when it is not valid."""
    encoding, payload = match.group(2).upper(), match.group(3)
    if not payload.isascii():
        defects.append(INVALID_BASE64 if encoding == "B" else INVALID_QP)
        return None
    if encoding == "B":
        letters = payload.rstrip("=")
        if not _BASE64.fullmatch(payload) or len(letters) % 4 == 1:
            defects.append(INVALID_BASE64)
            return None
        # Missing padding is common and harmless: clients add it, so do we.
        try:
            return binascii.a2b_base64(letters + "=" * (-len(letters) % 4))
        except binascii.Error:
            defects.append(INVALID_BASE64)
            return None
    if _BAD_QP_ESCAPE.search(payload):
        defects.append(INVALID_QP)
        return None
    return binascii.a2b_qp(payload.encode("ascii"), header=True)


def _charset_text(data: bytes, charset: str, defects: list[str]) -> str:
    codec = _codec(charset)
    if codec is None:
        if charset not in _UNKNOWN_8BIT:
            defects.append(UNKNOWN_CHARSET)
        return _from_bytes(data, defects)
    try:
        return data.decode(codec)
    except (UnicodeError, ValueError, LookupError):
        defects.append(BAD_BYTES)
    try:
        return data.decode(codec, errors="replace")
    except (UnicodeError, ValueError, LookupError):
        return _from_bytes(data, defects)


@functools.lru_cache(maxsize=256)
def _codec(charset: str) -> str | None:
    """The Python text codec for a MIME charset name; ``None`` when there is none."""
    name = _SUPERSETS.get(charset, charset)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # base64, rot13, zlib ... are codecs too, but not text encodings.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _printable(text: str, defects: list[str]) -> str:
    """One line of displayable text: line breaks become spaces, other control characters
    and lone surrogates U+FFFD (they cannot be written as utf-8, nor to PostgreSQL)."""
    text = _LINE_BREAK.sub(" ", text)
    if _CONTROL.search(text):
        defects.append(CONTROLS)
        text = _CONTROL.sub("\ufffd", text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text
