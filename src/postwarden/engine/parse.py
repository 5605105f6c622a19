"""Bytes → Message: the stdlib parser with policy.default, envelope and the headers the
policy needs, read defensively; bad input is recorded in ``Message.defects``, never raised.

A defect that starts with ``uninspectable: `` (oversized headers, an unparseable message) is
turned into an ``uninspectable`` finding by extraction, which holds the message.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import re
from email import policy, utils
from email.headerregistry import (
    BaseHeader,
    ContentTransferEncodingHeader,
    ContentTypeHeader,
    HeaderRegistry,
)
from email.message import EmailMessage
from email.message import Message as MimePart
from email.parser import BytesFeedParser
from email.policy import EmailPolicy
from typing import Any, TypeVar, cast

from postwarden.engine.quoted import decoded_quoted
from postwarden.headers import (
    Mailboxes,
    address_fields,
    addresses,
    decoded_text,
    header_class,
    header_table,
    utf8_text,
)
from postwarden.model import Envelope, Message
from postwarden.settings import Limits

__all__ = ["parse_message"]

_END_OF_HEADERS = re.compile(rb"\n\r?\n")
"""The end of the first empty line; the CR of a CRLF before it is not in the match (a
leading ``\r?`` has no first byte to look for, and made the search eight times slower)."""
_REPARSED = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
_REMEMBERED_CHARS = 1024
_REMEMBERED_VALUES = 2048
_SHARED_PARSES = 512
_PARSERS: dict[str, type[ContentTypeHeader | ContentTransferEncodingHeader]] = {
    "content-type": ContentTypeHeader,
    "content-transfer-encoding": ContentTransferEncodingHeader,
}


@functools.lru_cache(maxsize=_SHARED_PARSES)
def _shared_parse(header: str, value: str) -> tuple[tuple[str, Any], ...]:
    """What the stdlib's parse of ``header`` makes of ``value`` (its parse tree, text,
    defects and parameters), worked out once per process: the RFC 2045 parser takes 35 µs on each
    ``text/plain; charset="utf-8"``, and a few values make up most messages.  Parse trees
    are only read once made; each message still gets header objects of its own."""
    kwds: dict[str, Any] = {"defects": []}
    _PARSERS[header].parse(value, kwds)
    return tuple((key, tuple(v) if key == "defects" else v) for key, v in kwds.items())


def _kept(value: str) -> bool:
    """Whether what a header value parses to may be kept for the process: a short value
    that names no file (no ``name`` or ``filename`` parameter: no attachment name is kept
    beyond its message, and the process keeps a bounded number of short values)."""
    return len(value) <= _REMEMBERED_CHARS and "name" not in value.lower()


def _parse_shared(header: str, value: str, kwds: dict[str, Any]) -> None:
    """The stdlib's ``parse(value, kwds)`` of ``header``, from :func:`_shared_parse` when the
    value may be kept (:func:`_kept`), else parsed anew."""
    if not _kept(value):
        _PARSERS[header].parse(value, kwds)
        return
    for key, parsed in _shared_parse(header, value):
        if key == "defects":
            kwds["defects"].extend(parsed)
        else:
            kwds[key] = dict(parsed) if key == "params" else parsed


class _ContentType(ContentTypeHeader):
    """Content-Type, its value parsed once per process (:func:`_parse_shared`)."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        _parse_shared("content-type", value, kwds)


class _TransferEncoding(ContentTransferEncodingHeader):
    """Content-Transfer-Encoding, its value parsed once per process."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        _parse_shared("content-transfer-encoding", value, kwds)


class _OncePerValue(HeaderRegistry):
    """policy.default's header registry, parsing each MIME header value once per message.

    The stdlib parser asks for a part's Content-Type four to six times while it splits the
    tree (get_content_type, get_content_maintype, get_boundary) and extraction asks again;
    each ask runs the RFC 2045 parser anew. Header objects are immutable, so one per value
    is enough: parsing the check benchmark's 65 KB message went from 1.8 to 0.6 ms of CPU.
    Bounded, and per message, so no header outlives its message (what a Content-Type or
    Content-Transfer-Encoding value parses to is shared, :func:`_parse_shared`), but for
    the five standard transfer encodings (:func:`_encoding_header`).
    """

    __getitem__ = header_class

    def __init__(self, room: int = _REMEMBERED_VALUES) -> None:
        """``room``: how many header objects one message may keep (0: none, the registry of
        :data:`_LEAF_POLICY`, which every message with a plain header block shares)."""
        super().__init__()
        self._room = room
        # typeshed types the registry's classes as BaseHeader, which its own MIME header
        # classes are not until the registry mixes it in.
        self.map_to_type("content-type", cast("type[BaseHeader]", _ContentType))
        self.map_to_type("content-transfer-encoding", cast("type[BaseHeader]", _TransferEncoding))
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        lname = name.lower()
        if lname not in _REPARSED or len(value) > _REMEMBERED_CHARS:
            return super().__call__(name, value)
        if lname == "content-transfer-encoding" and value.lower() in _STANDARD_ENCODINGS:
            return _encoding_header(name, value)
        key = (lname, value)
        header = self._parsed.get(key)
        if header is None or header.name != name:
            header = super().__call__(name, value)
            if len(self._parsed) < self._room:
                self._parsed[key] = header
        return header


_ENCODING_HEADERS = _OncePerValue()
_STANDARD_ENCODINGS = frozenset({"7bit", "8bit", "binary", "base64", "quoted-printable"})
_PLAIN_ENCODINGS = frozenset({"", "7bit", "8bit", "binary", "quoted-printable"})


_SHARED_HEADERS: dict[tuple[str, str], BaseHeader] = {}
"""(field name, value) → :func:`_encoding_header`: each standard transfer encoding as it is
spelt, for `_Part.get` to find without the policy's steps."""


def _encoding_header(name: str, value: str) -> BaseHeader:
    """The Content-Transfer-Encoding header object for one of the five standard values,
    made once per process and shared by every message: such a value names no one, and
    making the object cost a tenth of extracting a 5 KB letter (get_payload asks for it)."""
    header = _SHARED_HEADERS.get((name, value))
    if header is None:
        made = HeaderRegistry.__call__(_ENCODING_HEADERS, name, value)
        header = _remember(_SHARED_HEADERS, (name, value), made)
    return header


def _shared_params(header: str, value: str) -> tuple[tuple[str, Any], ...]:
    """The parameters a policy.default message splits from its (first) ``header`` field
    when the parser read its value as ``value``: a function of that text alone."""
    probe = EmailMessage(policy=policy.default)
    probe.set_raw(header, value)
    return tuple(probe._get_params_preserve([], header))  # type: ignore[attr-defined]


def _content_type(value: str) -> str:
    """What ``get_content_type`` of a policy.default message answers when the parser read
    its (first) Content-Type field as ``value``: a function of that text alone (the default
    type is only for a part without one)."""
    probe = EmailMessage(policy=policy.default)
    probe.set_raw("Content-Type", value)
    return probe.get_content_type()


def _answer_of(getter: str, content_type: object, disposition: object) -> Any:
    """What ``getter`` (:data:`_ANSWERED`) of a policy.default message answers, given
    :data:`_MISSING` for a ``failobj``, when the parser read its first Content-Type and
    Content-Disposition fields as these values (:data:`_NO_HEADER`: none): a function of
    those two alone (the filename is a Content-Disposition or Content-Type parameter, the
    charset a Content-Type one)."""
    probe = EmailMessage(policy=policy.default)
    for name, value in (("Content-Type", content_type), ("Content-Disposition", disposition)):
        if value is not _NO_HEADER:
            probe.set_raw(name, value)
    if getter == "get_content_disposition":
        return probe.get_content_disposition()
    return getattr(probe, getter)(_MISSING)


_ANSWERED = ("get_filename", "get_content_charset", "get_content_disposition")
_MISSING = object()
"""The ``failobj`` :func:`_answer_of` asks with: what a getter answers when it finds nothing."""
_UNKNOWN = object()
_KEYS = frozenset({str, object})
"""The types of what `_Part._answer` looks up: a field's value as parsed, or :data:`_NO_HEADER`."""

_CONTENT_TYPES: dict[str, str] = {}
"""Content-Type value → :func:`_content_type`, for values that may be kept (:func:`_kept`)."""
_PARAMS: dict[tuple[str, str], tuple[tuple[str, Any], ...]] = {}
"""(lowercase header name, value) → :func:`_shared_params`, for values that may be kept."""
_ANSWERS: dict[tuple[str, object, object], Any] = {}
"""(getter, Content-Type value, Content-Disposition value) → :func:`_answer_of`, for values
that may be kept (:func:`_kept`) or absent."""


_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(answers: dict[_K, _V], key: _K, answer: _V) -> _V:
    """``answer``, kept in ``answers`` under ``key``; a full dict is emptied first (a plain
    dict: a hit costs one look-up, before any test of whether the value may be kept)."""
    if len(answers) >= _SHARED_PARSES:
        answers.clear()
    answers[key] = answer
    return answer


_NO_HEADER = object()


def _parameters(value: str) -> list[str]:
    """``email.message._parseparam(value)`` (3.11) in linear time: the parameters between the
    semicolons outside quotes, each ``name=value`` with its name lowercased.  The stdlib
    counts the quotes from the parameter's start again at each semicolon and cuts the value
    after each parameter: a 40 KB Content-Type of one open quote and semicolons took 1.8 s of
    CPU per ask (a part is asked twice), a megabyte (the header limit) would take half an
    hour.  Here the quotes are counted a stretch at a time (no ``\\"`` spans a semicolon)
    and the value is read by positions."""
    plist = []
    start, size = 0, len(value)
    while True:
        end = value.find(";", start)
        quotes, counted = 0, start
        while end > start:
            quotes += value.count('"', counted, end) - value.count('\\"', counted, end)
            if not quotes % 2:
                break
            counted, end = end, value.find(";", end + 1)
        if end < 0:
            end = size
        f = value[start:end]
        if "=" in f:
            i = f.index("=")
            f = f[:i].strip().lower() + "=" + f[i + 1 :].strip()
        plist.append(f.strip())
        if end == size:
            return plist
        start = end + 1


_PARSED_CHARS = 8192
"""The longest Content-Type or Content-Disposition value `_Part.get` hands to the policy's
parser (as headers.py's ``_PARSED_HEADER_CHARS`` for address headers).  That parser is
linear but slow, about 130 µs a parameter: ``text/plain`` and ``; a=b`` 16,000 times took
2.5 s of CPU to parse and extract, the 1 MiB header limit would take half a minute, and no
clock is looked at meanwhile."""
_CTE = "content-transfer-encoding"
_SLOW_TO_PARSE = frozenset({"content-type", "content-disposition", _CTE})
"""The fields `_Part.get` reads without the policy's parser when long.  Its
Content-Transfer-Encoding parser is worse, superlinear: ``base64`` and ``; a=b`` 16,000
times took 5.7 s of CPU.  The text of that header object is the value as it is (unfolded,
8-bit bytes replaced), which is what the getters read (``str`` of it)."""
_LINE_BREAKS = str.maketrans("", "", "\r\n")


def _unfolded(value: str) -> str:
    """``value`` with its line breaks taken out, as ``header_fetch_parse`` takes them, and
    raw 8-bit bytes (surrogate escapes) read as UTF-8 with replacement, as a header object's
    text is (``email.utils._sanitize``)."""
    return utf8_text(value.translate(_LINE_BREAKS))


def _unparsed(value: str) -> str:
    """A long Content-Type or Content-Disposition value as the text the getters of
    ``email.message.Message`` read (``str`` of its header object, split by `_parameters`),
    without the policy's parser: its line breaks taken out, as ``header_fetch_parse`` takes
    them, raw 8-bit bytes (surrogate escapes) read as UTF-8 with replacement, as the header
    object's text is (``email.utils._sanitize``), and each parameter's value cut where the
    parser ends it (:func:`_parameter_value`), encoded words in a quoted value decoded.
    What else the parser would tidy (comments, a parameter it cannot read dropped) stays as
    written, as a ``compat32`` message's getters would read it."""
    head, *params = _parameters(_unfolded(value))
    return "; ".join([head, *_collapsed(list(map(_parameter_value, _first_of_each_name(params))))])


def _collapsed(params: list[str]) -> list[str]:
    """``params``, their RFC 2231 values (``name*``, ``name*0``…) decoded and quoted as the
    policy's parser gives them (``filename="測.pdf"``), by the stdlib's own steps (as
    ``Message.get_param`` takes them)."""
    if not any("*" in param.partition("=")[0] for param in params):
        return params
    pairs = [(name.strip(), value.strip()) for name, _, value in (p.partition("=") for p in params)]
    out = {}
    for name, value in utils.decode_params([("", ""), *pairs])[1:]:
        if isinstance(value, tuple):
            charset, language, text = value
            text = utils.collapse_rfc2231_value((charset, language, utils.unquote(text)))
            out[name] = f'{name}="{utils.quote(text)}"'
        else:
            out[name] = f"{name}={value}" if value else name
    # decode_params puts the RFC 2231 values last; the parser leaves them where they were.
    order = dict.fromkeys(name.partition("*")[0] for name, _ in pairs)
    return [out[name] for name in order if name in out]


_SECTION = re.compile(r"\*\d+\*?$")


def _first_of_each_name(params: list[str]) -> list[str]:
    """``params`` but the parameters the policy's parser drops as repeats of a name before
    them (``name`` or ``name*``); the sections of an RFC 2231 value (``name*0``, ``name*1``)
    are one parameter.  (The parser tells names apart by case: here, lowercased by
    `_parameters`, they are not.)"""
    seen: dict[str, bool] = {}  # name → whether it came in sections
    names: set[str] = set()
    kept = []
    for param in params:
        name = param.partition("=")[0].strip()
        key, sectioned = name.partition("*")[0], _SECTION.search(name) is not None
        if key not in seen:
            seen[key] = sectioned
        elif not (sectioned and seen[key]) or name in names:
            continue
        names.add(name)
        kept.append(param)
    return kept


_VALUE = re.compile(r'\s*("(?:[^"\\]|\\.)*"?|[^\s()<>@,;:\\"/\[\]?=*\']*)')
"""A parameter's value as the policy's parser reads it: a quoted string up to its closing
quote, or a token up to the first blank or special character (``boundary=a b`` and
``boundary=a/b`` are both ``a``)."""


def _parameter_value(param: str) -> str:
    """``name=value`` (from `_parameters`) with its value cut as the policy's parser cuts it;
    a parameter without ``=``, or an RFC 2231 one (``name*``), as it is.  A quoted value
    with encoded words in it (``filename="=?utf-8?b?...?="``, as some clients write a
    non-ASCII name) is read as the parser reads it, the words decoded (`decoded_quoted`)."""
    name, equals, rest = param.partition("=")
    if not equals or "*" in name:  # an RFC 2231 value: decode_params reads it
        return param
    value = cast("re.Match[str]", _VALUE.match(rest))  # (it always matches)
    if value.group(1).startswith('"') and "=?" in value.group(1):
        return f"{name}={decoded_quoted(rest[value.start(1) :])}"
    return f"{name}={value.group(1)}"


class _Part(EmailMessage):
    """EmailMessage, answering its content type and the parameters of its header fields
    from one answer per process for each short value (:func:`_content_type`,
    :func:`_shared_params`, kept in ``_CONTENT_TYPES`` and ``_PARAMS``), without making a
    header object: the parser asks a part for
    its type four times while it splits the tree, extraction asks for its file name and
    charset (get_filename, get_param, get_content_charset), and each ask made or looked up
    a header object and split its value anew (a fifth of extracting a 5 KB letter).

    ``get_content_type`` and ``_get_params_preserve`` are the two places the stdlib's
    other content-type and parameter getters (get_content_maintype, get_params,
    get_param, get_filename, get_content_charset, get_boundary) read through; both read
    the first field of that name, as ``Message.get`` does.  A value that may not be kept
    (:func:`_kept`: it names a file, or it is long), or one a program set as a header
    object, goes the stdlib's way.  Overriding ``_get_params_preserve`` leans on the
    stdlib's internals (3.11): tests/engine/test_parse_fast_paths.py compares every answer
    with a policy.default message's, on the corpora and generated messages.  Only
    messages this module parses are made of this class, with its policy.

    The file name, charset and disposition extraction asks of every leaf part are answered
    likewise, one answer per process for each pair of short Content-Type and
    Content-Disposition values (:func:`_answer_of`, kept in ``_ANSWERS``): each was two or
    three look-ups of a field and a parameter split (a disposition a header object)."""

    _headers: list[tuple[str, Any]]  # Message's own list of (name, value) fields
    _payload: Any  # and its payload: text, bytes or a list of parts

    def _first_raw(self, wanted: str) -> object:
        """The value of the first field named ``wanted`` (lowercase ASCII) as the parser read
        it.  The length is compared first: no name that lowercases to ASCII changes length
        (only U+0130 does, to a non-ASCII pair)."""
        size = len(wanted)
        for key, value in self._headers:
            if len(key) == size and key.lower() == wanted:
                return value
        return _NO_HEADER

    def get(self, name: str, failobj: Any = None) -> Any:
        # Message.get lowercases every field's name to find one (get_payload, extraction and
        # the policy ask a dozen times per message); the same first field, by length first.
        if type(name) is not str or not name.isascii():
            return super().get(name, failobj)
        wanted = name.lower()
        size = len(wanted)
        for key, value in self._headers:
            if len(key) == size and key.lower() == wanted:
                # A standard transfer encoding (get_payload asks twice a part) is the header
                # object the policy's steps would end at: no line break to take out of it,
                # and _OncePerValue hands out the shared one.
                shared = _SHARED_HEADERS.get((key, value)) if type(value) is str else None
                if shared is not None:
                    return shared
                if wanted in _SLOW_TO_PARSE and type(value) is str and len(value) > _PARSED_CHARS:
                    return _unfolded(value) if wanted == _CTE else _unparsed(value)
                return self.policy.header_fetch_parse(key, value)
        return failobj

    def __contains__(self, name: str) -> bool:
        # get_param asks ``header in self`` before reading the parameters.
        if type(name) is str and name.isascii():
            return self._first_raw(name.lower()) is not _NO_HEADER
        return super().__contains__(name)

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        name = header.lower()
        value = self._first_raw(name)
        if type(value) is str:
            known = _PARAMS.get((name, value))
            if known is None and _kept(value):
                known = _remember(_PARAMS, (name, value), _shared_params(name, value))
            if known is not None:
                return list(known)
        # The stdlib's body (3.11), its _parseparam read in linear time (`_parameters`).
        value = self.get(header, _NO_HEADER)
        if value is _NO_HEADER:
            return failobj
        params = []
        for p in _parameters(str(value)):
            name_, equals, val = p.partition("=")
            params.append((name_.strip(), val.strip()) if equals else (p.strip(), ""))
        return utils.decode_params(params)

    def _answer(self, getter: str) -> Any:
        """What ``getter`` answers (:func:`_answer_of`, from ``_ANSWERS``), or
        :data:`_UNKNOWN` when a value may not be kept or the getter raised."""
        content_type = disposition = _NO_HEADER
        for key, value in self._headers:
            size = len(key)
            if size == 12:
                if content_type is _NO_HEADER and key.lower() == "content-type":
                    content_type = value
            elif size == 19 and disposition is _NO_HEADER and key.lower() == "content-disposition":
                disposition = value
        if type(content_type) not in _KEYS or type(disposition) not in _KEYS:
            return _UNKNOWN  # a header object a program set
        asked = (getter, content_type, disposition)
        known = _ANSWERS.get(asked, _UNKNOWN)
        if known is not _UNKNOWN or not all(
            value is _NO_HEADER or _kept(cast("str", value))
            for value in (content_type, disposition)
        ):
            return known
        try:
            answer = _answer_of(getter, content_type, disposition)
        except Exception:  # the getter's own failure is the stdlib's to raise again
            return _UNKNOWN
        return _remember(_ANSWERS, asked, answer)

    def get_filename(self, failobj: Any = None) -> Any:
        known = self._answer("get_filename")
        if known is _UNKNOWN:
            return super().get_filename(failobj)
        return failobj if known is _MISSING else known

    def get_content_charset(self, failobj: Any = None) -> Any:
        known = self._answer("get_content_charset")
        if known is _UNKNOWN:
            return super().get_content_charset(failobj)
        return failobj if known is _MISSING else known

    def get_content_disposition(self) -> Any:
        known = self._answer("get_content_disposition")
        return super().get_content_disposition() if known is _UNKNOWN else known

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        # Extraction reads each leaf twice (its size, then its bytes); for ASCII text (no
        # surrogate escape: nothing to decode by charset) under no or a standard transfer
        # encoding but base64 (whose defects the stdlib records), the stdlib's answer
        # without its list checks, its surrogate search and its header object.
        payload = self._payload
        if i is None and type(payload) is str and payload.isascii():
            encoding = self._first_raw("content-transfer-encoding")
            if encoding is _NO_HEADER:
                encoding = ""
            elif type(encoding) is str and encoding.lower() in _STANDARD_ENCODINGS:
                encoding = encoding.lower()
            if encoding in _PLAIN_ENCODINGS:
                if not decode:
                    return payload
                if encoding == "quoted-printable":
                    return binascii.a2b_qp(payload.encode("ascii"))  # quopri.decodestring's
                return payload.encode("ascii")
        return super().get_payload(i, decode)  # type: ignore[call-overload]

    def get_content_type(self) -> str:
        value = self._first_raw("content-type")
        if type(value) is str:
            known = _CONTENT_TYPES.get(value)
            if known is None and _kept(value):
                known = _remember(_CONTENT_TYPES, value, _content_type(value))
            if known is not None:
                return known
        return super().get_content_type()


def _message_policy() -> EmailPolicy[EmailMessage]:
    """policy.default, with a header registry of its own for one message and :class:`_Part`
    for its parts."""
    return policy.default.clone(header_factory=_OncePerValue(), message_factory=_Part)


_LEAF_POLICY = policy.default.clone(header_factory=_OncePerValue(0), message_factory=_Part)
"""The policy of a message whose plain header block `_plain_header_block` split: a leaf,
whose one part asks for its header objects once or twice (its content type and parameters
`_Part` answers without them), so one shared registry that keeps none of them saves
cloning a policy for each message."""

_FEED = 64 * 1024


def _parse_bytes(raw: bytes, end: re.Match[bytes] | None) -> MimePart:
    """The stdlib's parse of ``raw`` (``end``: its first empty line, `_END_OF_HEADERS`):
    :func:`_parse_leaf` or :func:`_parse_multipart` when one can tell, else
    :func:`_parse_fed`; they build the same message (tests/engine/test_parse.py)."""
    leaf = _parse_leaf(raw, end.end()) if end else None
    if leaf is None and end:
        leaf = _parse_multipart(raw, end.end())
    return leaf if leaf is not None else _parse_fed(raw)


def _parse_fed(raw: bytes) -> MimePart:
    """The stdlib's parse, fed a slice at a time: given the message whole, it decodes and
    splits all of it at once, peaking near eight times its size (517 MiB for a 67 MB
    message, 202 MiB fed in slices); the result is the same (tests/engine/test_parse.py)."""
    parser = BytesFeedParser(policy=_message_policy())
    for start in range(0, len(raw), _FEED):
        parser.feed(raw[start : start + _FEED])
    return parser.close()


def _parse_leaf(raw: bytes, body_start: int) -> MimePart | None:
    """A message that is not multipart or message/*: the stdlib parses its header block
    (``raw`` up to ``body_start``, just after the first empty line) and its body is the
    rest, as the stdlib's parse of the whole message makes it; ``None`` for any other.

    The feed parser splits a body into lines only to look for boundaries, and then joins
    the lines of a body that has none (a leaf's) back into the text it was: two thirds of
    parsing a 5 KB letter.  Whether the message is such a leaf is the stdlib's answer, not
    ours: the header block parsed alone must leave an empty body (the parser took exactly
    those lines as headers and separator, so no line that is not a header ended them
    earlier) and a content type that has no parts (``_parsegen`` then joins every
    remaining line into the payload, and ``close`` adds no defect)."""
    head = raw[:body_start]
    lowered = head.lower()
    if b"multipart" in lowered or b"message/" in lowered:  # would be parsed twice in vain
        return None
    mime = _plain_header_block(head)
    if mime is None:
        mime = _parse_fed(head)
        if mime.get_payload() != "":  # (a plain block's is empty: it is all fields)
            return None
    if mime.get_content_maintype() in ("multipart", "message"):
        return None
    # BytesFeedParser's own decoding of what it is fed.
    mime.set_payload(raw[body_start:].decode("ascii", "surrogateescape"))
    return mime


_PLAIN_FIELD = r"[\041-\071\073-\176]+:[^\n]*\n(?:[ \t][^\n]*\n)*"
"""One field: its name and colon (as the feed parser's ``headerRE`` takes a line for a
header, but for an empty name, which it reads as a defect), then its continuation lines."""
_PLAIN_BLOCK = re.compile(f"(?:{_PLAIN_FIELD})+\r?\n")
_FIELD = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\n]*\n(?:[ \t][^\n]*\n)*)")
"""A field of a plain block: its name, and its value from the first character that is not
a blank, with the line breaks that end its lines."""


def _plain_header_block(head: bytes) -> MimePart | None:
    """What `_parse_fed` makes of a leaf's header block ``head`` (up to and with its first
    empty line; its content type neither multipart nor message/*) that is plain: ASCII,
    every line ended by LF or CRLF, each a field or the continuation of one; ``None`` for
    any other (a "From " line, a CR alone, a line that is neither, 8-bit bytes).  The feed
    parser's own steps for such a block, without its line buffer and state machine (two
    thirds of parsing a 5 KB letter), and its policy's ``header_source_parse`` by one
    regular expression: the name up to the colon, the value without the blanks before it
    and without the line break after it.  tests/engine/test_parse_fast_paths.py compares
    the two on generated and corpus mail."""
    if not head.isascii() or head.count(b"\r") != head.count(b"\r\n"):
        return None
    text = head.decode("ascii")
    if _PLAIN_BLOCK.fullmatch(text) is None:
        return None
    mime = _Part(policy=_LEAF_POLICY)
    mime._headers = [(name, value.rstrip("\r\n")) for name, value in _FIELD.findall(text)]
    mime.set_payload("")
    return mime


_DELIMITER_TAIL = re.compile(rb"(--)?[ \t]*(?:\r\n|\r|\n|\Z)")
"""What follows ``--boundary`` on a delimiter line: the feed parser's ``boundaryre`` (3.11)
after its separator, the line break that ends the line (or the end of the message) for
its ``$``."""
_BOUNDARY = re.compile(r"[\x20-\x7e]+")
"""A boundary `_split_parts` looks for: printable ASCII (no line break, no surrogate escape:
the same text as bytes and as the feed parser's decoded lines)."""
_MULTIPART_ENCODINGS = ("7bit", "8bit", "binary")
_SPLIT_DEPTH = 16
"""How deep `_split_parts` splits multiparts inside multiparts (deeper: the feed parser)."""


def _parse_multipart(raw: bytes, body_start: int) -> MimePart | None:
    """A multipart message whose parts are all leaves or multiparts with plain header
    blocks, split as the stdlib's feed parser splits it; ``None`` for any other (the feed
    parser's then).  The feed parser reads the body a line at a time, testing each line
    for a boundary: the 25,000 lines of a 1.9 MB base64 attachment cost 18 ms of CPU (0.5
    ms here).  Here the delimiter lines are found by ``bytes.find``
    (:func:`_delimiter_lines`) and each part is read by the leaf fast path's steps
    (:func:`_plain_header_block`); whatever the feed
    parser would record a defect for, or read by steps not written here (message/* parts,
    multipart/digest, a missing start or close delimiter, two delimiter lines in a row, a
    part without an empty line after its header block), is left to it.
    tests/engine/test_parse_multipart.py compares the two on corpus, hostile and generated
    mail."""
    head = raw[:body_start]
    if b"multipart" not in head.lower():
        return None
    mime = _plain_header_block(head)
    if mime is None or mime.get_content_maintype() != "multipart":
        return None
    mime.policy = _message_policy()  # one registry for the message, as _parse_fed's
    if not _split_parts(raw, mime, body_start, len(raw), 0):
        return None
    return mime


def _split_parts(raw: bytes, container: MimePart, start: int, stop: int, depth: int) -> bool:
    """Give ``container`` (a multipart part) the parts, preamble and epilogue the feed parser
    reads from ``raw[start:stop]`` (its body: from a line start to the start of the
    enclosing multipart's next delimiter line, or the end; ``depth`` multiparts enclose it);
    ``False`` where that parse would be the feed parser's to make.

    As the feed parser (3.11 ``_parsegen``): the preamble runs to the first delimiter line
    (``None`` when there is none before it, else without its last line break, which belongs
    to the delimiter); each part runs from the line after a delimiter line to the next
    one, less its last line break; the epilogue is everything after the close delimiter's
    line.  An enclosing multipart's delimiter lines are outside ``raw[start:stop]``, so
    every match inside is this multipart's own (the feed parser's stack of boundary
    matchers, which lets an outer one end an inner part, has nothing to find)."""
    boundary = container.get_boundary()
    if (
        not boundary
        or _BOUNDARY.fullmatch(boundary) is None
        or container.get_content_type() == "multipart/digest"  # parts default to message/
        or str(container.get("content-transfer-encoding", "8bit")).lower()
        not in _MULTIPART_ENCODINGS  # a defect
    ):
        return False
    lines = _delimiter_lines(raw, b"--" + boundary.encode("ascii"), start, stop)
    if not lines or lines[0][2]:
        return False  # no start delimiter: a defect
    if lines[0][0] > start:
        container.preamble = _text(raw, start, _before_line_break(raw, start, lines[0][0]))
    parts: list[MimePart | str] = []
    for (_, after, _), (begin, end, close) in itertools.pairwise(lines):
        part = _split_part(raw, after, begin, container.policy, depth)
        if part is None:
            return False
        parts.append(part)
        if close:
            container.set_payload(parts)  # the list Message.attach makes
            container.epilogue = _text(raw, end, stop)
            return True
    return False  # no close delimiter: a defect


def _split_part(raw: bytes, start: int, stop: int, policy: Any, depth: int) -> MimePart | None:
    """One part of a multipart, ``raw[start:stop]`` (the delimiter line's line break before
    ``stop`` not its own), as the feed parser reads it; ``None`` where that is not written
    here: a header block that is not plain or has no empty line after it (nor has an
    empty part: two delimiter lines in a row, which the feed parser reads as one), a
    message/* part, a multipart more than :data:`_SPLIT_DEPTH` deep (no recursion error
    the feed parser would not raise) or one :func:`_split_parts` leaves to it."""
    if raw.startswith(b"\n", start) or raw.startswith(b"\r\n", start):
        part: MimePart = _Part(policy=policy)  # no header: the empty line only
        body = start + 1 if raw[start] == 10 else start + 2
    else:
        end = _END_OF_HEADERS.search(raw, start, stop)
        found = _plain_header_block(raw[start : end.end()]) if end else None
        if end is None or found is None:
            return None
        part, body = found, end.end()
        part.policy = policy
    maintype = part.get_content_maintype()
    if maintype == "message":
        return None
    if maintype != "multipart":
        part.set_payload(_text(raw, body, _before_line_break(raw, body, stop)))
        return part
    if depth >= _SPLIT_DEPTH or not _split_parts(raw, part, body, stop, depth + 1):
        return None
    # The feed parser takes the line break before the next delimiter off a multipart's
    # epilogue, and makes an empty one None.
    epilogue = cast("str", part.epilogue)
    part.epilogue = epilogue[: len(epilogue) - _line_break_size(epilogue)] if epilogue else None
    return part


def _delimiter_lines(
    raw: bytes, delimiter: bytes, start: int, stop: int
) -> list[tuple[int, int, bool]]:
    """Each line of ``raw[start:stop]`` (``start`` a line start, after a line break) that the
    feed parser takes for a delimiter of ``delimiter`` (``--boundary``): where it starts,
    where the next line starts, and whether it closes the multipart.  The feed parser
    splits lines at CRLF, CR and LF, so a line starts after a CR or an LF: the delimiter
    is looked for after each (a line full of delimiters, ``--b--b--b…``, is one find
    each, not one step per delimiter)."""
    found = []
    for line_break in b"\n", b"\r":
        marker = line_break + delimiter
        at = raw.find(marker, start - 1, stop)
        while at >= 0:
            tail = _DELIMITER_TAIL.match(raw, at + len(marker))
            if tail is not None:
                found.append((at + 1, tail.end(), tail.group(1) is not None))
            at = raw.find(marker, at + len(marker), stop)
    found.sort()
    return found


def _line_break_size(text: str) -> int:
    """The length of the CRLF, CR or LF that ends ``text`` (0: none), the feed parser's
    ``NLCRE_eol``."""
    if text.endswith("\r\n"):
        return 2
    return 1 if text.endswith(("\r", "\n")) else 0


def _before_line_break(raw: bytes, start: int, stop: int) -> int:
    """``stop``, less the CRLF, CR or LF that ends ``raw[start:stop]`` (the feed parser's
    ``NLCRE_eol``, on bytes: a 2 MB payload is not copied again to take one off)."""
    if stop - start >= 2 and raw[stop - 2 : stop] == b"\r\n":
        return stop - 2
    return stop - 1 if stop > start and raw[stop - 1] in b"\r\n" else stop


def _text(raw: bytes, start: int, stop: int) -> str:
    """``raw[start:stop]`` as the feed parser reads it (BytesFeedParser's own decoding)."""
    return raw[start:stop].decode("ascii", "surrogateescape")


def _header_bytes(raw: bytes, end: re.Match[bytes] | None) -> int:
    """Bytes before the line break that ends the last header (``end``: the empty line)."""
    if end is None:
        return len(raw)
    start = end.start()
    return start - 1 if raw[start - 1 : start] == b"\r" else start


def parse_message(raw: bytes, envelope: Envelope | None, limits: Limits) -> Message:
    """Parse ``raw``; the given envelope wins, and each missing piece (sender ``""`` or
    recipients ``()``) is taken from the From, or To + Cc + Bcc headers."""
    defects: list[str] = []
    end = _END_OF_HEADERS.search(raw)
    header_bytes = _header_bytes(raw, end)
    if header_bytes > limits.max_header_bytes:
        defects.append(
            f"uninspectable: headers of {header_bytes} bytes over limit {limits.max_header_bytes}"
        )
    if b"\x00" in raw:
        defects.append("NUL bytes in message")
    try:
        mime = _parse_bytes(raw, end)
    # The parser is meant to record defects, not raise; if it ever does, the message is
    # still inspected as raw text and held, never let through or crashed on.
    except Exception as exc:
        defects.append(f"uninspectable: message could not be parsed ({type(exc).__name__})")
        mime = EmailMessage(policy=policy.default)
        mime.set_payload(raw.decode("utf-8", "surrogateescape"))
    if not isinstance(mime, EmailMessage):  # pragma: no cover - policy.default builds these
        raise TypeError("policy.default produced a non-EmailMessage")
    defects.extend(type(d).__name__ for d in mime.defects)

    headers = header_table(mime)
    senders, from_boxes = address_fields(headers.get("from", []), "From")
    to, to_boxes = address_fields(headers.get("to", []), "To")
    cc, cc_boxes = address_fields(headers.get("cc", []), "Cc")
    sender = envelope.sender if envelope and envelope.sender else (senders[0] if senders else "")
    if envelope and envelope.recipients:
        recipients = tuple(envelope.recipients)
    else:
        bcc = addresses(headers.get("bcc", []), "Bcc")
        recipients = tuple(dict.fromkeys((*to, *cc, *bcc)))
    subject = _first(headers, "Subject", defects)
    message_id = _first(headers, "Message-ID", defects).strip()
    return Message(
        envelope=Envelope(sender=sender, recipients=recipients),
        mime=mime,
        raw_size=len(raw),
        subject=subject,
        header_from=senders[0] if senders else "",
        header_to=to,
        header_cc=cc,
        message_id=message_id,
        defects=defects,
        display_names=_display_names((to_boxes, cc_boxes), defects),
        sender_name=next(iter(_display_names((from_boxes,), defects).values()), ""),
    )


def _first(headers: dict[str, list[str]], name: str, defects: list[str]) -> str:
    """The first value of a header, decoded; what was wrong with it goes to ``defects``."""
    values = headers.get(name.lower())
    return decoded_text(values[0], name, defects) if values else ""


def _display_names(fields: tuple[Mailboxes, ...], defects: list[str]) -> dict[str, str]:
    """Lowercase address → decoded display name, from the mailboxes of address headers."""
    out: dict[str, str] = {}
    for found in fields:
        if found.defects:
            defects.extend(d for d in found.defects if d not in defects)
        for box in found.items:
            if box.name:
                out.setdefault(box.address.lower(), box.name)
    return out
