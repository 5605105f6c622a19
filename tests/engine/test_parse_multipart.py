"""The multipart fast path (``parse._parse_multipart``) against the stdlib's feed parser: the
whole tree it builds (every part's class, headers, payload, preamble, epilogue, defects and
content type) is the stdlib's, on every corpus file, on generated mail with awkward
boundaries, and it is taken where it should be (else the comparison would prove nothing)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.campaign import make_mutant, seeds

from postwarden.engine import parse

CORPORA = Path(__file__).resolve().parents[1] / "corpora"


def _tree(part: Message, exact: bool = False) -> tuple[object, ...]:
    """Everything a part of a parsed message holds, its parts' trees included (its class:
    an EmailMessage, the stdlib's, or, when ``exact``, its own: ``parse._parse_fed`` makes
    ``parse._Part``)."""
    payload = part._payload  # type: ignore[attr-defined]
    return (
        type(part).__name__ if exact else None,
        isinstance(part, EmailMessage),
        list(part.raw_items()),
        part.get_content_type(),
        part.get_default_type(),
        part.get_boundary(),
        part.is_multipart(),
        part.get_unixfrom(),
        part.preamble,
        part.epilogue,
        [type(d) for d in part.defects],
        [_tree(p, exact) for p in payload] if isinstance(payload, list) else payload,
    )


def _stdlib(raw: bytes) -> Message:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _flattened(mime: Message) -> object:
    """``mime.as_bytes()``, or the type of what it raised (a header the policy cannot fold)."""
    try:
        return mime.as_bytes()
    except Exception as exc:
        return type(exc)


def _fast(raw: bytes) -> Message | None:
    """The multipart fast path's parse of ``raw``, or ``None`` where it is not taken; where
    it is, checked to build the stdlib's tree, and ``_parse_bytes`` to take it."""
    end = parse._END_OF_HEADERS.search(raw)
    mime = parse._parse_multipart(raw, end.end()) if end else None
    if mime is not None:
        assert _tree(mime) == _tree(_stdlib(raw)), raw
        assert _tree(mime, exact=True) == _tree(parse._parse_fed(raw), exact=True), raw
        assert _flattened(mime) == _flattened(_stdlib(raw))
    return mime


def _same_as_the_stdlib(raw: bytes) -> bool:
    """Whether ``raw`` took the multipart fast path, after checking that the parser's own
    entry point builds the stdlib's tree of it either way."""
    assert _tree(parse._parse_bytes(raw, parse._END_OF_HEADERS.search(raw))) == _tree(
        _stdlib(raw)
    ), raw
    return _fast(raw) is not None


def test_corpus_files_read_as_the_stdlib_reads_them() -> None:
    """Every corpus file, mail or not (real, malformed and hostile messages; documents)."""
    taken = total = 0
    for path in sorted(CORPORA.rglob("*")):
        if path.is_file() and path.stat().st_size < 2_000_000:
            taken += _same_as_the_stdlib(path.read_bytes())
            total += 1
    assert total > 600
    assert taken > 60  # the fast path is taken on real multipart mail


_OUTER = ("b", "=_Part_1", "ab cd", "b--", "x.y'z")
_TEXT_LINES = (
    "plain text",
    "",
    " ",
    "x--{b}",
    "--{b}x",
    "-- {b}",
    "---{b}",
    "{b}",
    "{b}--",
    "--{B}",
    "text --{b}-- inside",
    "--{b}--x",
    "--{b}- -",
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
    "caf\udce9 8-bit \x00",
)
_TAILS = ("", "", "", " ", "\t ", "--", "--", "-- \t", "---", " x", "--x")
_HEADERS = (
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="a.xlsx"',
    "X-Folded: a\n\tb",
    "Content-Type: message/rfc822",
    "Content-Type: text/plain; name=--{b}",
    "not a header",
    "Subject: caf\udce9",
    "From nobody",
)


def _line(rng: random.Random, text: str, breaks: tuple[str, ...]) -> str:
    return text + rng.choice(breaks)


def _multipart(rng: random.Random, boundary: str, breaks: tuple[str, ...], depth: int) -> str:
    """The body of a multipart with ``boundary``: mostly well formed, with awkward lines."""
    out: list[str] = []
    if rng.random() < 0.5:  # a preamble, maybe holding the boundary without its dashes
        for _ in range(rng.randrange(3)):
            out.append(_line(rng, rng.choice(("pre", boundary, "", "-" + boundary)), breaks))
    for _ in range(rng.randrange(1, 4)):
        tail = rng.choice(_TAILS) if rng.random() < 0.2 else rng.choice(("", " ", "\t"))
        out.append(_line(rng, f"--{boundary}{tail}", breaks))
        out.append(_part(rng, boundary, breaks, depth))
    if rng.random() < 0.9:  # else no close delimiter
        out.append(f"--{boundary}--" + rng.choice(("", " ", "\t  ")))
        out.append(rng.choice(breaks) if rng.random() < 0.9 else "")
        for _ in range(rng.randrange(3)):  # an epilogue
            out.append(_line(rng, rng.choice(("epi", f"--{boundary}", "")), breaks))
    return "".join(out)


def _part(rng: random.Random, outer: str, breaks: tuple[str, ...], depth: int) -> str:
    """One part (its header block, empty line and body) inside a multipart of ``outer``."""
    out: list[str] = []
    nested = depth < 2 and rng.random() < 0.3
    inner = rng.choice((outer + "c", outer[:-1] or "z", outer + "--", "in", outer))
    if nested:
        out.append(_line(rng, f'Content-Type: multipart/alternative; boundary="{inner}"', breaks))
    elif rng.random() < 0.2:
        out.append(_line(rng, "Content-Type: multipart/digest; boundary=d", breaks))
    for _ in range(rng.randrange(3) if rng.random() < 0.9 else 0):
        header = rng.choice(_HEADERS) if rng.random() < 0.3 else _HEADERS[0]
        out.append(_line(rng, header.format(b=outer).replace("\n", rng.choice(breaks)), breaks))
    if rng.random() < 0.95:  # else no empty line after the header block
        out.append(rng.choice(breaks))
    if nested:
        out.append(_multipart(rng, inner, breaks, depth + 1))
    for _ in range(rng.randrange(4)):
        text = rng.choice(_TEXT_LINES) if rng.random() < 0.5 else "line"
        out.append(_line(rng, text.format(b=outer, B=outer.upper()), breaks))
    return "".join(out)


def _message(rng: random.Random) -> bytes:
    """A multipart message with awkward boundaries: the boundary's text inside and at the
    end of body lines, close delimiters mid-body, trailing blanks after delimiters, a
    missing close delimiter, a preamble holding the boundary without its dashes, nested
    multiparts whose boundary has the outer one as a prefix (or is a prefix of it); line
    breaks CRLF or LF, now and then mixed, a CR alone or missing."""
    breaks = rng.choice(
        (("\r\n",), ("\n",), ("\r\n", "\n"), ("\n", "\r"), ("\r\n", "\n", "\r", ""))
    )
    if len(breaks) > 2 and rng.random() < 0.7:
        breaks = breaks[:1]
    boundary = rng.choice(_OUTER)
    head = f'From: a@org.example{breaks[0]}Content-Type: multipart/mixed; boundary="{boundary}"'
    if rng.random() < 0.1:
        head += f"{breaks[0]}Content-Transfer-Encoding: {rng.choice(('7bit', 'base64'))}"
    text = head + breaks[0] + breaks[0] + _multipart(rng, boundary, breaks, 0)
    return text.encode("ascii", "surrogateescape")


def _messages(count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        yield _message(rng)


def test_generated_multipart_messages_read_as_the_stdlib_reads_them() -> None:
    taken = sum(_same_as_the_stdlib(raw) for raw in _messages(3000, 14))
    # Both ways were taken, each many times.
    assert 400 < taken < 2600


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False))
def test_hypothesis_multipart_messages_read_as_the_stdlib_reads_them(rng: random.Random) -> None:
    _same_as_the_stdlib(_message(rng))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60), st.sampled_from(("b", "b--", "bc")))
def test_any_bytes_in_a_part_read_as_the_stdlib_reads_them(body: bytes, inner: str) -> None:
    """Arbitrary bytes inside a nested part: wherever they put a line break or a
    delimiter, the tree is the stdlib's."""
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        b'Content-Type: multipart/mixed; boundary="' + inner.encode() + b'"\n\n'
        b"--" + inner.encode() + b"\n\n" + body + b"\n--" + inner.encode() + b"--\n--b--\n"
    )
    _same_as_the_stdlib(raw)


def test_the_benchmark_shape_takes_the_fast_path() -> None:
    """A letter and a big base64 attachment: split without the feed parser."""
    attachment = "QUFB" * 19 + "\n"
    raw = (
        'From: a@org.example\nContent-Type: multipart/mixed; boundary="==x=="\n\n'
        "--==x==\nContent-Type: text/plain\n\nPlease see attached.\n\n"
        "--==x==\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + attachment * 2000
        + "\n--==x==--\n"
    ).encode()
    assert _same_as_the_stdlib(raw)


_LETTER = "Content-Type: text/plain\n\nhello\n"


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        (f"--b\n{_LETTER}--b--\n", True),
        (f"--b\n{_LETTER}--b--", True),  # the close delimiter ends the message
        (f"--b \t\n{_LETTER}--b-- \n", True),
        (f"preamble b\n\n--b\n{_LETTER}\n--b\n\nno header\n--b--\nepilogue\n--b\n", True),
        (f"--b\r\n{_LETTER}\r--b--\r\n", True),  # a CR alone ends a line
        (
            "--b\nContent-Type: multipart/alternative; boundary=bc\n\n"
            f"--bc\n{_LETTER}--bc--\n\n--b--\n",
            True,
        ),
        (f"--b\n{_LETTER}", False),  # no close delimiter
        (f"--b\n--b\n{_LETTER}--b--\n", False),  # two delimiter lines in a row
        (f"--b--\n{_LETTER}--b--\n", False),  # no start delimiter
        ("--b\nContent-Type: message/rfc822\n\nSubject: s\n\nhi\n--b--\n", False),
        (f"--b\n{_LETTER.replace('Content', ' Content')}--b--\n", False),
        ("--b\nContent-Type: text/plain\n--b--\n", False),  # no empty line
    ],
)
def test_the_fast_path_is_taken_where_it_can_tell(body: str, taken: bool) -> None:
    raw = f"Content-Type: multipart/mixed; boundary=b\n\n{body}".encode()
    assert _same_as_the_stdlib(raw) is taken
    digest = raw.replace(b"multipart/mixed", b"multipart/digest")
    assert _same_as_the_stdlib(digest) is False


@pytest.mark.parametrize(
    ("depth", "taken"), [(parse._SPLIT_DEPTH, True), (parse._SPLIT_DEPTH + 1, False), (200, False)]
)
def test_deep_nesting_is_split_to_a_bound(depth: int, taken: bool) -> None:
    """Multiparts nested deeper than ``_SPLIT_DEPTH`` are the feed parser's to read."""
    head = "".join(
        f"Content-Type: multipart/mixed; boundary=b{n}\n\n--b{n}\n" for n in range(depth)
    )
    tail = "".join(f"--b{n}--\n" for n in reversed(range(depth)))
    raw = f"{head}Content-Type: multipart/mixed; boundary=z\n\n--z\n\nx\n--z--\n{tail}".encode()
    assert _same_as_the_stdlib(raw) is taken


def test_a_line_full_of_delimiter_text_reads_as_the_stdlib_reads_it() -> None:
    """Delimiter text repeated along one line is no delimiter line (and no step each)."""
    raw = (
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + "--b--b" * 200_000 + "\n--b--\n"
    ).encode()
    assert _same_as_the_stdlib(raw)


def test_fuzz_seeds_and_their_mutants_read_as_the_stdlib_reads_them() -> None:
    """The fuzz campaign's seeds (corpus mail, hostile documents attached to a message) and
    mutants of them: boundaries duplicated or deleted, folds damaged, bytes flipped,
    messages truncated, rewrapped."""
    corpus = seeds(max_bytes=300_000)
    taken = sum(_same_as_the_stdlib(seed.raw) for seed in corpus)
    assert taken > 200
    mutants = [make_mutant(corpus, 14, index)[1] for index in range(1500)]
    assert sum(_same_as_the_stdlib(raw) for raw in mutants) > 300


@pytest.mark.parametrize(
    "separator", [b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"\x85", b"\xe2\x80\xa8", b"\r", b"\n"]
)
def test_only_cr_and_lf_start_a_delimiter_line(separator: bytes) -> None:
    """The feed parser splits lines at CR and LF only, not at what str.splitlines splits."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx" + separator + b"--b\n\ny\n--b--\n"
    )
    assert _same_as_the_stdlib(raw)
    assert len(parse._parse_bytes(raw, parse._END_OF_HEADERS.search(raw)).get_payload()) == (
        2 if separator in (b"\r", b"\n") else 1
    )
