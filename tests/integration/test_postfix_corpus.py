"""Acceptance (issue 5): malformed mail through Postfix + milter, every message accounted for.

Every message of the public corpora (``tests/corpora``), every hostile Office file and bad
PDF of those corpora as an attachment, and a set of hand-made malformations go through the
real Postfix with the milter, each to its own envelope recipient.  Each must end delivered
(at the sink, with the verdict header), held (in the quarantine) or rejected (5xx at the
client); a tempfail or a message in none of those places fails the test, as does a milter
that died on the way.
"""

from __future__ import annotations

import re
import smtplib
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.factories import make_eml, make_zip
from tests.integration.conftest import SENDER, Stack
from tests.integration.messages import HKID

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
ATTACHMENT_CORPORA = {
    "poi-hostile-office": "application/octet-stream",
    "qpdf-bad-pdfs": "application/pdf",
}
_NOT_MAIL = re.compile(r"^(COPYING|LICENSE|NOTICE|README|SOURCE)", re.IGNORECASE)
_LINE_END = re.compile(rb"\r\n|\r|\n")


def corpus_messages() -> list[tuple[str, bytes]]:
    out = []
    for corpus in sorted(p for p in CORPORA.iterdir() if p.is_dir()):
        for path in sorted(p for p in (corpus / "files").rglob("*") if p.is_file()):
            if _NOT_MAIL.match(path.name):
                continue
            data = path.read_bytes()
            name = f"{corpus.name}/{path.relative_to(corpus / 'files')}"
            if corpus.name in ATTACHMENT_CORPORA:
                maintype, _, subtype = ATTACHMENT_CORPORA[corpus.name].partition("/")
                data = make_eml(
                    sender=SENDER,
                    to=["x@partner.example"],
                    subject=f"file {path.name}",
                    body="Please see the attached file.",
                    attachments=[(path.name, data, f"{maintype}/{subtype}")],
                )
            out.append((name, data))
    return out


def own_malformed() -> list[tuple[str, bytes]]:
    """Malformations the corpora lack, made here by the email and zipfile libraries."""
    plain = b"From: alice@demo.gov.hk\r\nTo: x@partner.example\r\nSubject: s\r\n\r\nbody\r\n"
    nested = EmailMessage()
    nested.set_content(f"innermost {HKID}")
    for depth in range(30):
        outer = EmailMessage()
        outer["Subject"] = f"level {depth}"
        outer.set_content("forwarded")
        outer.add_attachment(nested)
        nested = outer
    zeros = make_zip({"zeros.bin": bytes(64 * 1024 * 1024)})
    overlap = _overlapping_zip()
    return [
        ("own/header-without-colon", plain.replace(b"Subject: s", b"Subject s\r\nBroken line")),
        ("own/nul-bytes", plain.replace(b"body", b"bo\x00dy \x00" * 100)),
        ("own/8bit-header", plain.replace(b"Subject: s", "Subject: caf\xe9 ".encode("latin-1"))),
        ("own/headers-only", b"From: alice@demo.gov.hk\r\nSubject: no body\r\n"),
        ("own/empty-body", b"From: alice@demo.gov.hk\r\n\r\n"),
        ("own/long-header", plain.replace(b"Subject: s", b"Subject: " + b"x" * 60000)),
        ("own/broken-base64", _attachment_message(b"!!!not*base64%%%\r\n====\r\n", "a.xlsx")),
        ("own/unterminated-multipart", _multipart(close=False)),
        ("own/boundary-never-used", _multipart(boundary_in_body=False)),
        ("own/nested-rfc822-30", bytes(nested)),
        ("own/zip-ratio-bomb", _attach(zeros, "zeros.zip", "application/zip")),
        ("own/zip-overlap", _attach(overlap, "overlap.zip", "application/zip")),
        (
            "own/zip-encrypted",
            _attach(make_zip({"a.csv": b"x"}, encrypt="aes"), "e.zip", "application/zip"),
        ),
        ("own/hkid-csv", _attach(f"name,hkid\r\nChan,{HKID}\r\n".encode(), "list.csv", "text/csv")),
    ]


def _attach(data: bytes, name: str, mimetype: str) -> bytes:
    return make_eml(
        sender=SENDER,
        to=["x@partner.example"],
        subject=name,
        body="attached",
        attachments=[(name, data, mimetype)],
    )


def _attachment_message(payload: bytes, name: str) -> bytes:
    return (
        b"From: alice@demo.gov.hk\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b1\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="'
        + name.encode()
        + b'"\r\n\r\n'
        + payload
        + b"--b1--\r\n"
    )


def _multipart(*, close: bool = True, boundary_in_body: bool = True) -> bytes:
    b = b"b2" if boundary_in_body else b"elsewhere"
    end = b"--b2--\r\n" if close else b""
    return (
        b"From: alice@demo.gov.hk\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n--' + b + b"\r\n"
        b"Content-Type: text/plain\r\n\r\nHKID " + HKID.encode() + b"\r\n" + end
    )


def _overlapping_zip() -> bytes:
    """Two central-directory entries pointing at one local file (David Fifield's overlap)."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", b"A" * 100000)
    data = buf.getvalue()
    cd = data.index(b"PK\x01\x02")
    eocd = data.index(b"PK\x05\x06")
    entry = data[cd:eocd]
    second = entry.replace(b"a.txt", b"b.txt")
    tail = bytearray(data[eocd:])
    tail[8:10] = (2).to_bytes(2, "little")
    tail[10:12] = (2).to_bytes(2, "little")
    tail[12:16] = (len(entry) * 2).to_bytes(4, "little")
    return data[:cd] + entry + second + bytes(tail)


def _send(stack: Stack, raw: bytes, rcpt: str) -> int:
    """The SMTP reply code the client finally got for this message."""
    try:
        with smtplib.SMTP("127.0.0.1", stack.ports.filter, timeout=120) as smtp:
            smtp.sendmail(SENDER, [rcpt], raw)
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code
    except smtplib.SMTPRecipientsRefused as exc:
        return int(next(iter(exc.recipients.values()))[0])
    return 250


def test_malformed_mail_through_postfix_and_milter_is_all_accounted_for(stack: Stack) -> None:
    messages = corpus_messages() + own_malformed()
    assert len(messages) > 600, "the corpora are missing: tests/corpora"
    # As an MTA would submit it: canonical line ends (Postfix refuses bare LF here on purpose).
    batch = [
        (name, _LINE_END.sub(b"\r\n", raw), f"c{i}@partner.example")
        for i, (name, raw) in enumerate(messages)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda m: _send(stack, m[1], m[2]), batch))
    elapsed = time.monotonic() - started

    accepted = {rcpt for (_, _, rcpt), code in zip(batch, codes, strict=True) if code == 250}
    deadline = time.monotonic() + 60
    while True:
        delivered = {r for m in stack.sink.received for r in m.recipients} & accepted
        held = {r for item in stack.quarantine() for r in item["recipients"]} & accepted
        if delivered | held >= accepted or time.monotonic() > deadline:
            break
        time.sleep(1)

    outcome: Counter[str] = Counter()
    by_name: dict[str, str] = {}
    unaccounted = []
    for (name, _, rcpt), code in zip(batch, codes, strict=True):
        if code >= 500:
            outcome["rejected"] += 1
        elif 400 <= code < 500:
            outcome["tempfail"] += 1
            unaccounted.append((name, code))
        elif rcpt in delivered and rcpt in held:
            unaccounted.append((name, "delivered and held"))
        elif rcpt in delivered:
            outcome["delivered"] += 1
            by_name[name] = "delivered"
        elif rcpt in held:
            outcome["held"] += 1
            by_name[name] = "held"
        else:
            unaccounted.append((name, "lost"))
    print(f"\n{len(batch)} messages in {elapsed:.1f} s: {dict(outcome)}")
    # Content that cannot be inspected, or carries an HKID, to outside: never delivered.
    must_hold = [
        "own/zip-ratio-bomb",
        "own/zip-overlap",
        "own/zip-encrypted",
        "own/hkid-csv",
        "own/nested-rfc822-30",
        "own/unterminated-multipart",
        "own/broken-base64",
    ]
    assert {n: by_name.get(n) for n in must_hold} == dict.fromkeys(must_hold, "held")
    assert unaccounted == []
    assert sum(outcome.values()) == len(batch)
    assert outcome["held"] > 0
    assert outcome["delivered"] > 0
    assert stack.milter.alive, stack.milter.log()[-2000:]
    marked = [m for m in stack.sink.received if any(r in accepted for r in m.recipients)]
    assert all(m.message["X-Postwarden-Verdict"] == "deliver" for m in marked)
