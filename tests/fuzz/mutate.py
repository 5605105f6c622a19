"""Mutation operators over raw messages: the damage real mail and real attackers bring.

Each operator takes a seeded ``random.Random`` and the message bytes and returns new bytes;
it works on bytes with regular expressions, never through the email package (which would
repair what we mean to break). :func:`mutant` applies one to three of them.
"""

from __future__ import annotations

import base64
import io
import random
import re
import zipfile
from collections.abc import Callable

Operator = Callable[[random.Random, bytes], bytes]

_LINE = re.compile(rb"[^\n]*\n|[^\n]+$")
_BOUNDARY_LINE = re.compile(rb"(?m)^--[^\r\n]{1,200}\r?\n")
_HEADER_LINE = re.compile(rb"(?m)^[!-9;-~]{1,76}:[^\n]*\n(?:[ \t][^\n]*\n)*")
_BASE64_LINE = re.compile(rb"(?m)^[A-Za-z0-9+/]{40,}={0,2}\r?$")
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_ADDRESS_HEADER = re.compile(rb"(?mi)^(From|To|Cc|Subject):[^\n]*\n")

BAD_WORDS = (
    b"=?utf-8?B?abcde?=",  # base64 of an impossible length
    b"=?utf-8?B?ab!d?=",  # a character outside base64
    b"=?utf-8?Q?bad=G1?=",  # a broken Q escape
    b"=?x-unknown-charset?Q?abc?=",
    b"=?base64?B?YWJj?=",  # a codec that is no charset
    b"=?utf-8?B?",  # an encoded-word that never ends
    b"=?utf-8?Q?=E4=B8?=",  # half a character
    b"=?utf-7?B?KyBBQ0UtKz8=?=",
    b"=??B?YWJj?=",
    b"=?utf-8?B?6YG45rCR5ZCN5YaK?=\r\n =?utf-8?B?abcde?=",
)


def _lines(data: bytes) -> list[bytes]:
    return _LINE.findall(data)


def _header_end(data: bytes) -> int:
    found = _END_OF_HEADERS.search(data)
    return found.start() if found else len(data)


def byte_flips(rng: random.Random, data: bytes) -> bytes:
    """A few bytes anywhere replaced by random ones (bit rot, a bad transfer)."""
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] = out[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    """The message cut short (a dropped connection, a full disk)."""
    if len(data) < 2:
        return data
    return data[: rng.randrange(1, len(data))]


def duplicate_boundary(rng: random.Random, data: bytes) -> bytes:
    """A boundary line said twice, or a whole part repeated."""
    found = list(_BOUNDARY_LINE.finditer(data))
    if not found:
        return duplicate_header(rng, data)
    line = rng.choice(found)
    if rng.random() < 0.5 or line is found[-1]:
        return data[: line.end()] + line.group(0) + data[line.end() :]
    following = found[found.index(line) + 1]
    part = data[line.start() : following.start()]
    return data[: following.start()] + part + data[following.start() :]


def delete_boundary(rng: random.Random, data: bytes) -> bytes:
    """A boundary line gone: the closing one, or one between parts."""
    found = list(_BOUNDARY_LINE.finditer(data))
    if not found:
        return truncate(rng, data)
    line = found[-1] if rng.random() < 0.3 else rng.choice(found)
    return data[: line.start()] + data[line.end() :]


def duplicate_header(rng: random.Random, data: bytes) -> bytes:
    """A header field repeated (two Content-Types, two Subjects) in some header block."""
    found = list(_HEADER_LINE.finditer(data))
    if not found:
        return byte_flips(rng, data)
    field = rng.choice(found)
    copy = field.group(0)
    if rng.random() < 0.3:  # and a different value the second time
        copy = copy.replace(b":", b": x", 1)
    return data[: field.end()] + copy + data[field.end() :]


def fold_damage(rng: random.Random, data: bytes) -> bytes:
    """Header folding broken: a continuation without white space, a bare CR or LF inside a
    field, a folded line that goes on for kilobytes, or the header/body separator lost."""
    end = _header_end(data)
    head, body = data[:end], data[end:]
    choice = rng.randrange(5)
    lines = _lines(head)
    if not lines:
        return data
    i = rng.randrange(len(lines))
    if choice == 0:
        lines[i] = lines[i].lstrip(b" \t")  # a continuation that starts a new field
    elif choice == 1:
        cut = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:cut] + rng.choice([b"\r", b"\n", b"\r\n", b"\x00"]) + lines[i][cut:]
    elif choice == 2:
        lines.insert(i + 1, b" " + b"x" * rng.randint(1000, 20_000) + b"\r\n")
    elif choice == 3:
        lines.insert(i + 1, b"\r\n" * rng.randint(1, 3) + b" folded after an empty line\r\n")
    else:
        return head + body.lstrip(b"\r\n")  # no separator: the body runs into the headers
    return b"".join(lines) + body


def bad_encoded_word(rng: random.Random, data: bytes) -> bytes:
    """An invalid RFC 2047 word in Subject, or in a From / To / Cc display name."""
    word = rng.choice(BAD_WORDS)
    found = list(_ADDRESS_HEADER.finditer(data[: _header_end(data) + 2]))
    if not found or rng.random() < 0.2:
        name = rng.choice([b"Subject", b"From", b"To"])
        value = word if name == b"Subject" else word + b" <someone@outside.example>"
        return name + b": " + value + b"\r\n" + data
    field = rng.choice(found)
    name = field.group(1)
    if name.lower() == b"subject":
        value = b" " + word + b" " + field.group(0)[len(name) + 1 :].strip() + b"\r\n"
    else:
        value = (
            b" "
            + word
            + b" <"
            + b"someone@outside.example"
            + b">, "
            + field.group(0)[len(name) + 1 :].strip()
            + b"\r\n"
        )
    return data[: field.start()] + name + b":" + value + data[field.end() :]


def base64_damage(rng: random.Random, data: bytes) -> bytes:
    """Base64 bodies broken: characters deleted or foreign ones put in, a line dropped or
    repeated, the padding cut."""
    found = list(_BASE64_LINE.finditer(data))
    if not found:
        return byte_flips(rng, data)
    line = rng.choice(found)
    text = line.group(0)
    choice = rng.randrange(4)
    if choice == 0:
        cut = rng.randrange(len(text))
        text = text[:cut] + text[cut + rng.randint(1, 3) :]
    elif choice == 1:
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice([b"!", b"*", b"\xff", b"=", b"-", b"==="]) + text[cut:]
    elif choice == 2:
        text = b"" if rng.random() < 0.5 else text + b"\n" + text
    else:
        text = text.rstrip(b"=\r")
    return data[: line.start()] + text + data[line.end() :]


def _boundary(rng: random.Random) -> bytes:
    return b"==fuzz%08x==" % rng.getrandbits(32)


def wrap_rfc822(rng: random.Random, data: bytes) -> bytes:
    """The message forwarded as an attachment: message/rfc822 inside multipart/mixed."""
    b = _boundary(rng)
    return b"".join(
        [
            b"From: clerk@demo.gov.hk\r\nTo: ann@outside.example\r\nSubject: Fwd\r\n",
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n',
            b"--" + b + b"\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n",
            b"--" + b + b"\r\nContent-Type: message/rfc822\r\n\r\n",
            data,
            b"\r\n--" + b + b"--\r\n",
        ]
    )


def wrap_zip(rng: random.Random, data: bytes) -> bytes:
    """The message zipped as ``mail.eml`` and attached (base64) to a new message."""
    buf = io.BytesIO()
    method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
    with zipfile.ZipFile(buf, "w", method) as archive:
        # A fixed date: writestr(name) stamps the current time, and a mutant is rebuilt from
        # its seed and index alone.
        member = zipfile.ZipInfo("mail.eml", date_time=(2026, 1, 1, 0, 0, 0))
        member.compress_type = method
        archive.writestr(member, data)
    encoded = base64.encodebytes(buf.getvalue()).replace(b"\n", b"\r\n")
    b = _boundary(rng)
    return b"".join(
        [
            b"From: clerk@demo.gov.hk\r\nTo: ann@outside.example\r\nSubject: Zipped\r\n",
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n',
            b"--" + b + b"\r\nContent-Type: text/plain\r\n\r\nSee the archive.\r\n",
            b"--" + b + b'\r\nContent-Type: application/zip; name="mail.zip"\r\n',
            b'Content-Disposition: attachment; filename="mail.zip"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            encoded,
            b"--" + b + b"--\r\n",
        ]
    )


def rewrap(rng: random.Random, data: bytes) -> bytes:
    """Nested re-wrapping: message/rfc822 inside multipart inside a zip attachment, in one
    to three layers, with damage between the layers."""
    for _ in range(rng.randint(1, 3)):
        data = rng.choice([wrap_rfc822, wrap_zip])(rng, data)
        if rng.random() < 0.3:
            data = rng.choice(DAMAGE)(rng, data)
    return data


DAMAGE: tuple[Operator, ...] = (
    byte_flips,
    truncate,
    duplicate_boundary,
    delete_boundary,
    duplicate_header,
    fold_damage,
    bad_encoded_word,
    base64_damage,
)
OPERATORS: tuple[Operator, ...] = (*DAMAGE, rewrap)


def mutant(rng: random.Random, data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """``data`` damaged by one to three operators; the bytes and the operators' names."""
    names: list[str] = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        operator = rng.choice(OPERATORS)
        data = operator(rng, data)
        names.append(operator.__name__)
    return data, tuple(names)
