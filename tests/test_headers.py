"""The one header decoder: RFC 2047 as a mail client reads it, and never an exception."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32, default
from email.utils import getaddresses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.headers import (
    _ADDR_SPEC,
    BAD_BYTES,
    CONTROLS,
    HEADER_POLICY,
    INVALID_BASE64,
    INVALID_QP,
    UNDECLARED_8BIT,
    UNKNOWN_CHARSET,
    HeaderClasses,
    Mailbox,
    _plain_mailboxes,
    address_fields,
    addresses,
    decode,
    decoded_text,
    header_of,
    header_values,
    mailboxes,
)

BIG5_NAME = "陳大文".encode("big5")


@pytest.mark.parametrize(
    ("value", "text", "defects"),
    [
        # valid: plain, base64, Q, lower-case encoding letters, charset with RFC 2231 language
        ("Quarterly report", "Quarterly report", ()),
        ("=?utf-8?B?6YG45rCR5ZCN5YaK?=", "選民名冊", ()),
        ("=?UTF-8?q?caf=C3=A9_au_lait?=", "café au lait", ()),
        ("=?utf-8*en?Q?hello?=", "hello", ()),
        ("=?big5?B?s6+kaqTl?=", "陳大文", ()),
        ("=?gb2312?B?s8K0887E?=", "陈大文", ()),  # gb2312 labels: read as its superset gb18030
        ("=?utf-8?B?6YG45rCR?=", "選民", ()),
        ("=?utf-8?B?6YG45rCR5ZCN5YaK?", "=?utf-8?B?6YG45rCR5ZCN5YaK?", ()),  # not a word at all
        ("=?utf-8?B?5Lit?=", "中", ()),
        ("=?utf-8?B?5Lit5paH?=", "中文", ()),
        ("=?utf-8?B?5Lit5p?=", "中\ufffd", (BAD_BYTES,)),  # padding added, bytes cut short
        ("=?utf-8?B??=", "", ()),
        # invalid base64 / Q words: the raw word is shown, and named
        ("=?utf-8?B?abcde?=", "=?utf-8?B?abcde?=", (INVALID_BASE64,)),
        ("=?utf-8?B?ab!d?=", "=?utf-8?B?ab!d?=", (INVALID_BASE64,)),
        ("=?utf-8?B?a=bc?=", "=?utf-8?B?a=bc?=", (INVALID_BASE64,)),
        ("=?utf-8?Q?bad=G1?=", "=?utf-8?Q?bad=G1?=", (INVALID_QP,)),
        ("=?utf-8?Q?trail=?=", "=?utf-8?Q?trail=?=", (INVALID_QP,)),
        # unknown and non-text charsets: the bytes read as text, named
        ("=?x-klingon?Q?abc?=", "abc", (UNKNOWN_CHARSET,)),
        ("=?base64?Q?abc?=", "abc", (UNKNOWN_CHARSET,)),
        ("=?punycode?Q?abc?=", "abc", (UNKNOWN_CHARSET,)),
        ("=?unknown-8bit?Q?caf=C3=A9?=", "café", ()),
        ("=?us-ascii?Q?caf=E9?=", "caf\ufffd", (BAD_BYTES,)),
        # mixed: plain text around words, white space between words dropped (RFC 2047 §6.2)
        ("Re: =?utf-8?Q?caf=C3=A9?= list", "Re: café list", ()),
        ("=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab", ()),
        ("=?utf-8?Q?a?= =?iso-8859-1?Q?=E9?=", "aé", ()),
        ("=?utf-8?Q?a?= x =?utf-8?Q?b?=", "a x b", ()),
        ("=?utf-8?B?abcde?= =?utf-8?Q?ok?=", "=?utf-8?B?abcde?= ok", (INVALID_BASE64,)),
        ("=?utf-8?Q?ok?= =?utf-8?B?abcde?=", "ok =?utf-8?B?abcde?=", (INVALID_BASE64,)),
        # one character split across two words of one charset: joined as bytes first
        ("=?utf-8?Q?=E4=B8?= =?utf-8?Q?=AD?=", "中", ()),
        # folded: CRLF + white space removed, the white space kept
        ("=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=", "ab", ()),
        ("long\r\n subject", "long subject", ()),
        ("long\n\tsubject", "long\tsubject", ()),
        # line breaks and control characters inside encoded words
        ("=?utf-8?Q?a=0D=0Ab?=", "a b", ()),
        ("=?utf-8?Q?a=00b?=", "a\ufffdb", (CONTROLS,)),
        ("x\x00y", "x\ufffdy", (CONTROLS,)),
        # raw 8-bit: utf-8 as RFC 6532 allows, else a guess among the charsets senders use
        ("選民 list".encode(), "選民 list", ()),
        (BIG5_NAME + b" report", "陳大文 report", (UNDECLARED_8BIT,)),
        ("café".encode("cp1252"), "café", (UNDECLARED_8BIT,)),
        (b"caf\xe9 =?utf-8?Q?=E4=B8=AD?=", "café 中", (UNDECLARED_8BIT,)),
        # surrogate escapes, as the stdlib parser hands raw bytes over; lone surrogates
        ("選民".encode().decode("ascii", "surrogateescape"), "選民", ()),
        ("a\ud800b", "a\ufffdb", ()),
        (None, "", ()),
        (b"", "", ()),
    ],
)
def test_headers_decode_table(
    value: str | bytes | None, text: str, defects: tuple[str, ...]
) -> None:
    decoded = decode(value)
    assert decoded.text == text
    assert decoded.defects == defects


def test_headers_decode_names_the_header_in_each_defect() -> None:
    decoded = decode("=?utf-8?B?abcde?= =?utf-8?Q?=ZZ?=", "Subject")
    assert decoded.defects == (f"Subject: {INVALID_BASE64}", f"Subject: {INVALID_QP}")


def test_headers_defects_carry_no_header_content() -> None:
    decoded = decode("=?x-secret-charset?Q?HKID_A123456(7)?= =?utf-8?B?A1234?=", "Subject")
    assert decoded.defects
    assert not any("A123" in d or "secret" in d for d in decoded.defects)


@pytest.mark.parametrize(
    ("values", "expected", "defects"),
    [
        (["Ann <ann@partner.example>"], [Mailbox("Ann", "ann@partner.example")], ()),
        (
            ["=?utf-8?B?6Zmz5aSn5paH?= <chan@partner.example>, bob@partner.example"],
            [Mailbox("陳大文", "chan@partner.example"), Mailbox("", "bob@partner.example")],
            (),
        ),
        (
            ["=?utf-8?B?abcde?= <x@partner.example>"],
            [Mailbox("=?utf-8?B?abcde?=", "x@partner.example")],
            (f"To: {INVALID_BASE64}",),
        ),
        (
            ['"=?utf-8?Q?bad=G1?=" <x@partner.example>'],
            [Mailbox("=?utf-8?Q?bad=G1?=", "x@partner.example")],
            (f"To: {INVALID_QP}",),
        ),
        # group syntax, empty group, and a group with members
        (["undisclosed-recipients:;"], [], ()),
        (
            ["team: Ann <ann@partner.example>, bob@partner.example;"],
            [Mailbox("Ann", "ann@partner.example"), Mailbox("", "bob@partner.example")],
            (),
        ),
        (["x" * 20_000 + " <long@partner.example>"], [], ()),  # names of huge values not read
    ],
)
def test_headers_mailboxes_table(
    values: list[str], expected: list[Mailbox], defects: tuple[str, ...]
) -> None:
    found = mailboxes(values, "To")
    assert list(found.items) == expected
    assert found.defects == defects


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ["Ann <ann@partner.example>, bob@partner.example"],
            ("ann@partner.example", "bob@partner.example"),
        ),
        (["=?utf-8?B?abcde?= <x@partner.example>"], ("x@partner.example",)),
        (["unlisted-recipients:;"], ()),
        (["team: ann@partner.example;", "ann@partner.example"], ("ann@partner.example",)),
        (
            [", ".join(f"u{i}@partner.example" for i in range(3000))],
            tuple(f"u{i}@partner.example" for i in range(3000)),
        ),
        (["a\udce9@partner.example"], ("a\ufffd@partner.example",)),
    ],
)
def test_headers_addresses_table(values: list[str], expected: tuple[str, ...]) -> None:
    assert addresses(values, "To") == expected


def test_headers_values_of_a_parsed_message_never_build_header_objects() -> None:
    raw = b"To: unlisted-recipients:;\r\nSubject: =?utf-8?B?abcde?=\r\n\r\nbody\r\n"
    msg = BytesParser(policy=default).parsebytes(raw)
    assert header_values(msg, "to") == ["unlisted-recipients:;"]
    assert decode(header_values(msg, "Subject")[0]).text == "=?utf-8?B?abcde?="


def test_headers_values_of_a_built_message() -> None:
    msg = EmailMessage()
    msg["From"] = Address("陳大文", addr_spec="chan@org.example")
    msg["Subject"] = "選民名冊"
    assert decode(header_values(msg, "Subject")[0]).text == "選民名冊"
    (box,) = mailboxes(header_values(msg, "From")).items
    assert box == Mailbox("陳大文", "chan@org.example")


def test_headers_header_of_reads_the_stored_bytes() -> None:
    raw = b"From: a@org.example\r\nSubject: =?utf-8?B?abcde?=\r\n\r\nbody"
    assert header_of(raw, "subject").text == "=?utf-8?B?abcde?="
    assert header_of(raw, "Cc").text == ""
    assert header_of(b"", "Subject").text == ""
    assert header_of(b"\xff\xfe\x00garbage", "Subject").text == ""


_WORD = st.builds(
    lambda charset, enc, payload: f"=?{charset}?{enc}?{payload}?=",
    st.sampled_from(["utf-8", "big5", "x-bad", "utf-16", "base64", "", "gb2312*zh", "idna"]),
    st.sampled_from(["B", "Q", "b", "q", "X"]),
    st.text(alphabet="ABCabc0189+/=_?-\u00e9\udce9 \r\n", max_size=30),
)
_PIECES = st.one_of(
    _WORD, st.text(max_size=40), st.sampled_from(["\r\n ", "\x00", "\udc80", "\ud800", " "])
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_headers_decode_never_raises_on_any_text(value: str) -> None:
    decoded = decode(value, "Subject")
    decoded.text.encode("utf-8")  # printable, storable: no lone surrogates
    assert "\x00" not in decoded.text
    assert "\n" not in decoded.text
    mailboxes([value], "To")
    addresses([value], "To")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_headers_decode_never_raises_on_any_bytes(value: bytes) -> None:
    decode(value).text.encode("utf-8")
    header_of(value, "Subject").text.encode("utf-8")
    msg = BytesParser(policy=compat32).parsebytes(b"Subject: " + value + b"\r\n\r\n")
    for header in header_values(msg, "Subject"):
        decode(header).text.encode("utf-8")


def test_headers_decode_is_linear_on_overlong_values() -> None:
    import time

    for value in (
        "=?utf-8?B?" * 100_000,
        "=?a?B?" + "A" * 1_000_000,
        "=?utf-8?Q?a?= " * 50_000,
        "\udce9" * 200_000,
    ):
        started = time.process_time()
        decode(value, "Subject").text.encode("utf-8")
        assert time.process_time() - started < 5


def test_headers_overlong_address_values_are_scanned_in_linear_time() -> None:
    """A value over the parsed length is scanned for addr-specs; a long run of address
    characters without an "@" was tried from each of its characters (a 100 KB To: of one
    word took 40 s of CPU: the policy's header limit lets a message carry several)."""
    import time

    for value, found in (
        ("x" * 200_000 + " a@b.example", ("a@b.example",)),
        ("x" * 100_000 + "@", ()),
        (("y" * 60 + "@") * 3_000 + "z", tuple(dict.fromkeys(["y" * 60 + "@" + "y" * 60]))),
    ):
        started = time.process_time()
        assert addresses([value], "To") == found
        assert time.process_time() - started < 2


_ATEXT = st.sampled_from(list('ab@ <>(),;:"x.[]\t\né'))


@settings(max_examples=1_000, deadline=None)
@given(st.lists(_ATEXT, max_size=40).map("".join))
def test_headers_addr_spec_scan_finds_what_the_backtracking_scan_finds(value: str) -> None:
    """The scan of overlong values begins matches only where a run of address characters
    begins: it finds what the plain expression, which tries every position, finds."""
    plain = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")
    assert _ADDR_SPEC.findall(value) == plain.findall(value)


def test_header_classes_are_made_once_and_parse_as_policy_default() -> None:
    registry = HeaderClasses()
    assert registry["To"] is registry["to"] is HeaderClasses()["TO"]
    value = '"Chan, Tai Man" <tm.chan@example.com>, b@example.org'
    ours = HEADER_POLICY.header_fetch_parse("To", value)
    theirs = default.header_fetch_parse("To", value)
    assert type(ours).__name__ == type(theirs).__name__
    assert str(ours) == str(theirs)
    assert [a.addr_spec for a in ours.addresses] == [a.addr_spec for a in theirs.addresses]


_ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/^_`{|}~-", min_size=1, max_size=6)
_SPEC = st.builds(
    lambda local, domain: f"{'.'.join(local)}@{'.'.join(domain)}",
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(_ATOM, min_size=1, max_size=3),
)
_SPACE = st.sampled_from(["", " ", "\t", "  "])
_PLAIN_NAME = st.one_of(
    st.just(""),
    st.lists(_ATOM, min_size=1, max_size=3).map(" ".join),
    st.text(alphabet="ab ,.'-&", max_size=12).map(lambda t: f'"{t}"'),
)
_PLAIN_BOX = st.one_of(
    st.builds(lambda a, s, b: f"{a}{s}{b}", _SPACE, _SPEC, _SPACE),
    st.builds(lambda n, s, a: f"{n}{s}<{a}>", _PLAIN_NAME, _SPACE, _SPEC),
)
_NEAR_PLAIN = st.text(alphabet='ab.@<>", ;:()\\=?[]\t\r\n\udce9é', max_size=30)


def _stdlib_read(value: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The addr-specs the policy parser reads from ``value``, and getaddresses' pairs."""
    header = default.header_fetch_parse("To", value)
    specs = [str(a.addr_spec) for a in header.addresses]  # type: ignore[attr-defined]
    return specs, [(" ".join(n.split()), a) for n, a in getaddresses([value])]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.lists(_PLAIN_BOX, min_size=1, max_size=4).map(",".join),
        st.lists(st.one_of(_PLAIN_BOX, _NEAR_PLAIN), min_size=1, max_size=3).map(",".join),
    )
)
def test_headers_plain_mailboxes_read_as_the_stdlib_parsers_read_them(value: str) -> None:
    """The expression that reads plain address headers without the policy parser reads
    exactly what both stdlib parsers read, and leaves every other value to them."""
    plain = _plain_mailboxes(value)
    if plain is None:
        return
    specs, pairs = _stdlib_read(value)
    assert [spec for _, spec in plain] == specs
    assert [(" ".join(n.split()), a) for n, a in plain] == pairs
    assert addresses([value], "To") == tuple(dict.fromkeys(specs))


@pytest.mark.parametrize(
    "value",
    [
        '"alice@example.org" <bob@example.org>',  # a quoted name that looks like an address
        "alice@example.org <bob@example.org>",
        "a@b@c.example",
        "<@route.example:a@b.example>",
        "a@[192.0.2.1]",
        '"a\\"b" <x@y.example>',
        "=?utf-8?Q?a?= <x@y.example>",
        "(comment) x@y.example",
        "x@y.example,",
        "x@y.example\r\n",
        "a\udce9@y.example",
        "team: x@y.example;",
        "x@y.example" + " " * 9000,
    ],
)
def test_headers_plain_mailboxes_leave_anything_else_to_the_parsers(value: str) -> None:
    assert _plain_mailboxes(value) is None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_headers_decode_of_ascii_text_is_that_of_its_bytes(value: str) -> None:
    """Text with nothing to decode is shown as it is: the same as the full decode of its
    bytes (which takes no shortcut), defects included."""
    assert decode(value, "Subject") == decode(value.encode("ascii"), "Subject")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(_PLAIN_BOX, min_size=1, max_size=4).map(",".join),
            st.lists(st.one_of(_PLAIN_BOX, _NEAR_PLAIN), min_size=1, max_size=3).map(",".join),
            st.sampled_from(["=?utf-8?B?abcde?= <x@y.example>", "team: a@b.example;", "x" * 9000]),
        ),
        max_size=3,
    )
)
def test_headers_address_fields_are_addresses_and_mailboxes(values: list[str]) -> None:
    """Reading a header's addresses and mailboxes at once reads what each reads alone."""
    assert address_fields(values, "To") == (addresses(values, "To"), mailboxes(values, "To"))


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=127), max_size=40),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.sampled_from(["=?utf-8?B?abcde?=", "a\udce9b", "=?utf-8?q?caf=C3=A9?="]),
    )
)
def test_headers_decoded_text_is_the_text_and_defects_of_decode(value: str | bytes) -> None:
    """The text of a value with nothing to decode taken as it is: what decode gives."""
    defects: list[str] = []
    text = decoded_text(value, "Subject", defects)
    decoded = decode(value, "Subject")
    assert (text, tuple(defects)) == (decoded.text, decoded.defects)
