"""The parser's fast paths against the stdlib's general ones: a leaf message's body taken
whole (``_parse_leaf``) and the parts' content types and parameters worked out once per
process (``_Part``) build and answer exactly what the stdlib's parse does."""

from __future__ import annotations

import base64
import itertools
import random
import re
from collections.abc import Callable, Iterable, Iterator
from email import policy
from email.headerregistry import ContentTransferEncodingHeader
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from postwarden.engine import parse

CORPORA = Path(__file__).resolve().parents[1] / "corpora"

_HEADS = (
    b"From: a@org.example\r\nTo: b@p.example\r\nSubject: s\r\n",
    b"From: a@org.example\nSubject: =?utf-8?q?caf=C3=A9?=\n",
    b"From nobody Mon Jan  1 00:00:00 2024\nFrom: a@org.example\n",
    b"Subject: folded\r\n continued\r\n\tand again\r\n",
    b"Subject: lone\rcr: inside\r\n",
    b"Subject: s\r\nnot a header line\r\nX: y\r\n",
    b"\r\nSubject: blank line first\r\n",
    b"Subject: \xe9\xe8 8-bit\r\nX-Nul: a\x00b\r\n",
    b"Subject: s\n\r\rX: after lone crs\n",
    b"",
)
_TYPES = (
    b"",
    b"Content-Type: text/plain; charset=utf-8\r\n",
    b'Content-Type: text/plain; charset="big5"; format=flowed\r\n',
    b"Content-Type: TEXT/HTML\r\nContent-Transfer-Encoding: base64\r\n",
    b'Content-Type: application/pdf; name="a b.pdf"\r\n'
    b"Content-Disposition: attachment; filename*=utf-8''%E6%B8%AC.pdf\r\n",
    b"Content-Type: text\r\n",
    b"Content-Type: text/plain; charset*=utf-8''utf-8\r\n",
    b"Content-Type: text/plain\r\nContent-Type: application/zip\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: Multipart/Alternative\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"Content-Type: =?utf-8?q?multipart/mixed?=\r\n",
    b"Content-Type: text/plain; (comment) charset=us-ascii\r\n",
    b"Content-Type: text/plain\r\nContent-Disposition: inline\r\n",
    b"Content-Disposition: ATTACHMENT; size=3\r\nContent-Type: text/csv; charset=big5\r\n",
    b"Content-Disposition: attachment\r\nContent-Disposition: inline\r\n",
    b"Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n",
    b"Content-Transfer-Encoding: 7BIT\r\nContent-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable \r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n",
)
_BODIES = (
    b"\r\n",
    b"\r\nhello\r\nworld\r\n",
    b"\n\nline\nline without end",
    b"\r\n--b\r\nContent-Type: text/plain\r\n\r\npart\r\n--b--\r\n",
    b"\r\nFrom: inner@x.example\r\n\r\ninner body\r\n",
    b"\r\n\r\n\r\nleading blank lines\r\n",
    b"\n\xe6\xb8\xac\xe8\xa9\xa6 8-bit \x00 body\r\rcr\n",
    b"\r\nsoft=\r\nbreak a=3Db caf=C3=A9 =E6=B8=AC\r\n",
    b"",
)


def _generated() -> Iterator[bytes]:
    for head in _HEADS:
        for ctype in _TYPES:
            for body in _BODIES:
                yield head + ctype + body


def _corpus() -> Iterator[bytes]:
    for path in sorted(CORPORA.rglob("*.eml")):
        if path.stat().st_size < 2_000_000:
            yield path.read_bytes()


def _answer(ask: Callable[[], object]) -> object:
    """What a stdlib call answers, or the type of what it raised."""
    try:
        return ask()
    except Exception as exc:
        return type(exc)


def _answers(part: Message) -> list[object]:
    return [
        _answer(part.get_content_type),
        [name in part for name in ("content-type", "Content-Disposition", "X-None", "K")],
        [
            _answer(lambda name=name: (part.get(name, failobj=0) == 0, str(part.get(name))))
            for name in ("content-type", "Content-Transfer-Encoding", "FROM", "X-None", "K")
        ],
        _answer(part.get_content_maintype),
        _answer(part.get_default_type),
        _answer(lambda: part.get_params()),
        _answer(lambda: part.get_params(unquote=False)),
        _answer(lambda: part.get_params(header="content-disposition")),
        _answer(lambda: part.get_param("charset")),
        _answer(lambda: part.get_param("name")),
        _answer(lambda: part.get_param("filename", header="Content-Disposition")),
        _answer(part.get_filename),
        _answer(lambda: part.get_filename(0)),
        _answer(part.get_boundary),
        _answer(part.get_content_charset),
        _answer(lambda: part.get_content_charset(0)),
        _answer(part.get_content_disposition),
        _answer(part.is_multipart),
        _answer(part.get_unixfrom),
        [type(d) for d in part.defects],
        list(part.raw_items()),
        _answer(lambda: part.get_payload(decode=True)),
        part.preamble,
        part.epilogue,
    ]


def _same_tree(ours: Message, theirs: Message) -> None:
    ours_parts, their_parts = list(ours.walk()), list(theirs.walk())
    assert len(ours_parts) == len(their_parts)
    for mine, stdlib in zip(ours_parts, their_parts, strict=True):
        assert _answers(mine) == _answers(stdlib)
        # Asked again: what was worked out once per process answers the same.
        assert _answers(mine) == _answers(stdlib)
        if not mine.is_multipart():
            assert mine.get_payload() == stdlib.get_payload()
    assert _answer(ours.as_bytes) == _answer(theirs.as_bytes)


def _parse_bytes(raw: bytes) -> Message:
    return parse._parse_bytes(raw, parse._END_OF_HEADERS.search(raw))


def _stdlib(raw: bytes) -> Message:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _plain_blocks_read_as_fed(raw: bytes) -> int:
    """1 when ``raw``'s header block is plain (`parse._plain_header_block`), after checking
    it builds what the feed parser builds of that block; else 0."""
    end = parse._END_OF_HEADERS.search(raw)
    if end is None:
        return 0
    head = raw[: end.end()]
    plain = parse._plain_header_block(head)
    if plain is None or plain.get_content_maintype() in ("multipart", "message"):
        return 0  # (those _parse_leaf leaves to the feed parser, which splits their parts)
    _same_tree(plain, parse._parse_fed(head))
    return 1


def _read_as_the_stdlib(raws: Iterable[bytes]) -> tuple[int, int]:
    """Check each message of ``raws`` reads the same by the leaf path (where it is taken),
    the sliced path, the stdlib's own parse and, for a plain header block, the direct split;
    how many took the leaf path, and how many had a plain header block."""
    leaves = plain = 0
    for raw in raws:
        end = parse._END_OF_HEADERS.search(raw)
        leaf = parse._parse_leaf(raw, end.end()) if end else None
        leaves += leaf is not None
        if leaf is not None:
            _same_tree(leaf, parse._parse_fed(raw))
        _same_tree(_parse_bytes(raw), _stdlib(raw))
        plain += _plain_blocks_read_as_fed(raw)
    return leaves, plain


def test_generated_messages_read_as_the_stdlib_reads_them() -> None:
    leaves, plain = _read_as_the_stdlib(_generated())
    # Both paths were taken, each many times.
    assert 100 < leaves < len(list(_generated())) - 100
    assert 100 < plain < len(list(_generated())) - 100


def test_corpus_messages_read_as_the_stdlib_reads_them() -> None:
    leaves, plain = _read_as_the_stdlib(_corpus())
    assert leaves > 20
    assert plain > 20


@pytest.mark.parametrize("value", ['text/plain; name="x.txt"', "text/plain; charset=" + "x" * 1100])
def test_values_naming_files_or_long_are_not_kept(value: str) -> None:
    parse._CONTENT_TYPES.clear()
    parse._PARAMS.clear()
    raw = f"From: a@org.example\r\nContent-Type: {value}\r\n\r\nbody\r\n".encode()
    mime = _parse_bytes(raw)
    assert mime.get_content_type() == "text/plain"
    assert mime.get_params() == _stdlib(raw).get_params()
    assert not parse._CONTENT_TYPES
    assert not parse._PARAMS


def test_header_size_is_the_bytes_before_the_first_empty_line() -> None:
    """``_END_OF_HEADERS`` finds the empty line by its LF; the size counts the CR before."""
    rng = random.Random(14)
    whole = re.compile(rb"\r?\n\r?\n")
    for _ in range(20_000):
        raw = bytes(rng.choice(b"\r\nab:") for _ in range(rng.randrange(12)))
        found = whole.search(raw)
        expected = found.start() if found else len(raw)
        assert parse._header_bytes(raw, parse._END_OF_HEADERS.search(raw)) == expected, raw
        end = parse._END_OF_HEADERS.search(raw)
        assert (end.end() if end else None) == (found.end() if found else None), raw


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Transfer-Encoding", "base64"),
        ("content-transfer-encoding", "Quoted-Printable"),
        ("CONTENT-TRANSFER-ENCODING", "7bit"),
        ("Content-Transfer-Encoding", "8BIT"),
        ("Content-Transfer-Encoding", "binary"),
    ],
)
def test_standard_transfer_encodings_are_shared_header_objects_like_the_stdlibs(
    name: str, value: str
) -> None:
    raw = f"From: a@org.example\r\n{name}: {value}\r\n\r\nbody\r\n".encode()
    first, second = (_parse_bytes(raw) for _ in range(2))
    ours = first.get(name)
    theirs = policy.default.header_factory(name, value)
    assert ours is second.get(name)
    assert (str(ours), ours.name, ours.cte, ours.defects) == (
        str(theirs),
        theirs.name,
        theirs.cte,
        theirs.defects,
    )
    assert isinstance(ours, ContentTransferEncodingHeader)


def test_plain_header_blocks_share_a_policy_that_keeps_no_header_object() -> None:
    """A leaf's plain header block is read with one policy for every such message, whose
    header registry keeps none of the header objects it makes (no message's headers
    outlive it)."""
    raw = (
        b"From: a@org.example\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Disposition: inline\r\n\r\nbody\r\n"
    )
    mime = _parse_bytes(raw)
    assert mime.policy is parse._LEAF_POLICY
    assert str(mime.get("content-type")) == str(_stdlib(raw).get("content-type"))
    assert mime.get_content_disposition() == "inline"
    assert not parse._LEAF_POLICY.header_factory._parsed  # type: ignore[attr-defined]


def test_parameters_split_as_the_stdlib_splits_them() -> None:
    """`parse._parameters` gives what the stdlib's quadratic ``_parseparam`` gives: every
    string of up to six of the characters that matter, and random longer ones."""
    import email.message
    import itertools

    alphabet = 'a;"\\= N'
    for size in range(7):
        for chars in itertools.product(alphabet, repeat=size):
            value = "".join(chars)
            assert parse._parameters(value) == email.message._parseparam(value), value
    rng = random.Random(14)
    for _ in range(3_000):
        value = "".join(rng.choice(alphabet + "b'\t*0") for _ in range(rng.randrange(60)))
        assert parse._parameters(value) == email.message._parseparam(value), value


@pytest.mark.parametrize(
    "content_type",
    [
        'text/plain; charset=utf-8; a="' + ";" * 200_000,
        'text/plain; charset=utf-8; a="' + ";" * 200_000 + '"; b=c',
    ],
)
def test_long_parameter_lists_are_read_in_linear_time(content_type: str) -> None:
    """A part's parameters were split by the stdlib in quadratic time (a 40 KB Content-Type
    of an open quote and semicolons: 1.8 s of CPU per message, 200 KB: 45 s)."""
    import time

    from postwarden.engine.extract import extract
    from postwarden.settings import Limits

    limits = Limits()
    raw = (
        "From: a@o.example\r\nTo: b@p.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n\r\nhello 91234567\r\n"
    ).encode()
    started = time.process_time()
    ex = extract(parse.parse_message(raw, None, limits), limits, time.monotonic() + 600)
    assert time.process_time() - started < 2
    assert [u.text for u in ex.units if u.where == "body"] == ["hello 91234567\r\n"]


_PIECES = (
    "charset=utf-8",
    'charset="big5"',
    "charset=big5 junk",
    "boundary=abc",
    'boundary="a b"',
    "boundary=----=_Part_1",
    "boundary=a/b",
    "Delsp = x(comment)",
    "charset=x; charset*=utf-8''y",
    'filename="a b.pdf"',
    'filename="a\\"b.pdf" after',
    "filename*=utf-8''%E6%B8%AC.pdf",
    "name=x.pdf",
    "format=flowed",
    "flag",
    'a="b;c"',
)


def _names(params: str) -> set[str]:
    return {re.split("[*=]", param)[0].strip().lower() for param in params.split(";")}


def _getters(part: Message, header: str) -> list[object]:
    """The answers extraction and the parser read from a Content-Type or
    Content-Disposition: content type, charset, boundary, file name, parameters."""
    return [
        _answer(part.get_content_type),
        _answer(lambda: part.get_params(header=header)),
        _answer(lambda: part.get_param("charset")),
        _answer(part.get_content_charset),
        _answer(part.get_boundary),
        _answer(part.get_filename),
        _answer(lambda: part.get_param("name", header="content-type")),
        _answer(part.get_content_disposition),
    ]


def _unparsed_reads_as_parsed(header: str, value: str) -> None:
    """The getters read `parse._unparsed(value)` (on a message whose getters read header
    text as it is) as a policy.default message's read ``value`` itself."""
    theirs = Message(policy=policy.default)
    theirs.set_raw(header, value)
    ours = Message(policy=policy.compat32)
    ours.set_raw(header, parse._unparsed(value))
    assert _getters(ours, header) == _getters(theirs, header), value


@pytest.mark.parametrize("header", ["Content-Type", "Content-Disposition"])
def test_long_values_read_without_the_policy_parser_answer_as_it_does(header: str) -> None:
    """Values over `parse._PARSED_CHARS` are read by `parse._unparsed`, not the policy's
    parser: every pair of common and awkward parameters (token and quoted values, values
    the parser cuts at a blank or a special character, RFC 2231, a quoted semicolon, a
    folded line, an 8-bit byte) answers as that parser's reading does, short and long."""
    head = "multipart/mixed" if header == "Content-Type" else "attachment"
    for first in _PIECES:
        for second in _PIECES:
            if _names(first) & _names(second):
                continue  # a name given twice: the parser's quirks with RFC 2231 not followed
            _unparsed_reads_as_parsed(header, f"{head}; {first}; {second}")
            _unparsed_reads_as_parsed(header, f"{head};\r\n {first};\n\t{second}")
    _unparsed_reads_as_parsed(header, f"{head}; filename=\udce9t\udce9.pdf; charset=x")
    _unparsed_reads_as_parsed(header, f"{head}; a=b; a=d; name=x; name=y")
    # Sections of one value (a repeat of the name after them is a case not followed: the
    # parser keeps the first section alone).
    _unparsed_reads_as_parsed(header, f"{head}; a=b; filename*0=a; filename*1*=%41; c=d")
    # Long, through the parser's own entry point, against the stdlib given the time.
    pad = "; a=b" * (parse._PARSED_CHARS // 5)
    for first, second in zip(_PIECES, _PIECES[3:] + _PIECES[:3], strict=True):
        value = f"{head}; {first}{pad}; {second}"
        raw = f"Subject: s\r\n{header}: {value}\r\n\r\nbody\r\n".encode()
        assert len(value) > parse._PARSED_CHARS
        ours, theirs = _parse_bytes(raw), _stdlib(raw)
        assert not hasattr(ours.get(header), "params")  # text, no header object
        assert _getters(ours, header) == _getters(theirs, header), value


@pytest.mark.parametrize(
    "value", ["base64", " Quoted-Printable (c)", "base64 \udce9", "x-uue; a", "7bit\r\n x"]
)
def test_long_transfer_encodings_read_without_the_policy_parser_answer_as_it_does(
    value: str,
) -> None:
    """A Content-Transfer-Encoding over `parse._PARSED_CHARS` is its text, as the policy's
    header object's text is: the same decoded payload."""
    pad = "; a=b" * (parse._PARSED_CHARS // 5)
    raw = f"Subject: s\r\nContent-Transfer-Encoding: {value}{pad}\r\n\r\naGk=\r\n"
    data = raw.encode("utf-8", "surrogateescape")
    ours, theirs = _parse_bytes(data), _stdlib(data)
    assert not hasattr(ours.get("content-transfer-encoding"), "cte")  # text, no header object
    assert str(ours.get("content-transfer-encoding")) == str(
        theirs.get("content-transfer-encoding")
    )
    assert ours.get_payload(decode=True) == theirs.get_payload(decode=True)


@pytest.mark.parametrize(
    "header", ["Content-Type", "Content-Disposition", "Content-Transfer-Encoding"]
)
def test_a_megabyte_of_parameters_is_read_in_bounded_time(header: str) -> None:
    """``; a=b`` 200,000 times (1 MB, the header limit) went through the policy's parser,
    130 µs a parameter: half a minute of CPU, no clock looked at (a transfer encoding's
    parser is superlinear: far longer)."""
    import time

    from postwarden.engine.extract import extract
    from postwarden.settings import Limits

    limits = Limits()
    params = "; a=b" * 200_000
    fields = (
        f"Content-Type: text/plain{params}; charset=utf-8\r\n"
        if header == "Content-Type"
        else f"Content-Type: text/plain\r\n{header}: 7bit{params}; x=y\r\n"
    )
    raw = (
        "From: a@o.example\r\nTo: b@p.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        f"{fields}\r\nhello 91234567\r\n"
    ).encode()
    assert len(raw) < limits.max_header_bytes
    started = time.process_time()
    message = parse.parse_message(raw, None, limits)
    ex = extract(message, limits, time.monotonic() + 600)
    assert time.process_time() - started < 3
    assert [u.text for u in ex.units if u.where == "body"] == ["hello 91234567\r\n"]
    assert message.mime.get_content_type() == "text/plain"


def _b(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


_WORDS = (
    _b("陳大文"),
    _b(" A123456(3).pdf"),
    "=?utf-8?q?=E9=99=B3=E5=A4=A7=E6=96=87_tel?=",
    "=?utf-8?q?=41bc?=",  # "?=" then hex digits: the word runs to the next "?="
    "=?UTF-8?B?5ris?=",
    "=?iso-8859-1?q?caf=E9?=",
    "=?utf-8*en?q?a?=",
    "=?utf-8?q?a b?=",  # a blank inside the word
    "=?x-unknown?q?abc?=",  # an unknown charset: decoded as unknown bytes
    "=?utf-8?x?abc?=",  # an unknown encoding: not a word
    "=?utf-8?b?!!!?=",
    "=?utf-8?q?a?b?=",  # three "?": not a word
    "=?a",
    "=?",
    "?=",
    "x=?utf-8?q?a?=",  # not at a word's start: not decoded
    _b("陳") + "x",
    _b("陳") + _b("大"),
    "plain",
    '\\"',
)


def test_encoded_words_in_long_quoted_values_read_as_the_policy_parser_reads_them() -> None:
    """A quoted value with encoded words in it (``filename="=?utf-8?b?...?="``) over
    `parse._PARSED_CHARS` reads as the policy parser reads it, the words decoded: every
    word, broken word and text of `_WORDS`, one or two of them, and a fixed sample of
    200 of three (all 8,000 took four and a half minutes of the suite), joined by nothing,
    blanks or a tab, closed or not, short (compared as `parse._unparsed` reads them), and
    12 pairs long (through the parser's entry point: the stdlib takes a fifth of a second
    over each long value).  Not followed: a value whose decoded text ends in a backslash
    (the getters then count its closing quote as escaped)."""
    rng = random.Random(2047)
    threes = rng.sample(list(itertools.product(_WORDS, repeat=3)), 200)
    compared = 0
    for count, chosen in (
        (1, itertools.product(_WORDS)),
        (2, itertools.product(_WORDS, repeat=2)),
        (3, threes),
    ):
        for words in chosen:
            for blank in (" ", "", "\t ") if count > 1 else ("",):
                inner = blank.join(words)
                for value in (
                    f'attachment; filename="{inner}"',
                    f'attachment; filename="{inner}.pdf"; size=3',
                ):
                    _unparsed_reads_as_parsed("Content-Disposition", value)
                    compared += 1
    assert compared > 3_000
    pad = "; a=b" * (parse._PARSED_CHARS // 5)
    for words in rng.sample(list(itertools.combinations(_WORDS, 2)), 12):
        for header, head in (("Content-Disposition", "attachment"), ("Content-Type", "text/x")):
            value = f'{head}; name="{" ".join(words)}"{pad}; filename="{"".join(words)}"'
            raw = f"Subject: s\r\n{header}: {value}\r\n\r\nbody\r\n".encode()
            ours, theirs = _parse_bytes(raw), _stdlib(raw)
            assert not hasattr(ours.get(header), "params")  # text, no header object
            assert _getters(ours, header) == _getters(theirs, header), value
    name = _b("陳大文.pdf")
    raw = f'Subject: s\r\nContent-Disposition: attachment{pad}; filename="{name}"\r\n\r\nx'
    assert _parse_bytes(raw.encode()).get_filename() == "陳大文.pdf"


@pytest.mark.parametrize(
    "inner",
    [
        "=?a " * 250_000,  # no "?=": the stdlib looks for one from each "=?" again
        "=?" * 500_000,
        "=?a " * 249_999 + "?=",
        "=?x?q?a?= " * 100_000,
        "=?a?=41 " * 125_000,
        "=?a?b " + "=?a " * 249_998 + "?=",
        "=?" + "?" * 999_996 + "?=",
    ],
    ids=["open words", "glued", "one end", "words", "hex", "two ? then open words", "?s"],
)
def test_a_megabyte_of_encoded_words_in_a_file_name_is_read_in_linear_time(inner: str) -> None:
    """A megabyte file name (the header limit) of encoded words, broken ones or none closed,
    decodes in linear time (measured 0.1-1.1 s of CPU; the stdlib's expression and parser
    take hours)."""
    import time

    from postwarden.settings import Limits

    raw = (
        "From: a@o.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
        f'Content-Disposition: attachment; filename="{inner}"\r\n\r\nhello\r\n'
    ).encode()
    assert len(raw) < Limits().max_header_bytes
    started = time.process_time()
    message = parse.parse_message(raw, None, Limits())
    name = message.mime.get_filename()
    assert time.process_time() - started < 3
    assert name is not None
    assert len(name) >= 100_000
