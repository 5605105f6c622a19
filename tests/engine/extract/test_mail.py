"""Transfer encodings of MIME parts: base64 that decodes to nothing or to garbage is
uninspectable; stray characters around a file that still reads are harmless."""

from __future__ import annotations

import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from tests.factories import make_csv, make_eml, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.extract import Extraction, extract
from postwarden.engine.parse import parse_message
from postwarden.model import Action
from postwarden.settings import Limits

LIMITS = Limits()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROWS = [["Name", "Tel"], ["CHAN Tai Man", "91234567"], ["WONG Siu Ming", "61234567"]]


def run(raw: bytes) -> Extraction:
    return extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)


def reencoded(name: str, data: bytes, mimetype: str, edit: Callable[[str], str]) -> bytes:
    """A message with one attachment whose base64 text (as the email package wrote it) is
    replaced by ``edit(text)``."""
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="list",
        body="attached",
        attachments=[(name, data, mimetype)],
    )
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    part = next(p for p in msg.iter_attachments() if p.get_filename() == name)
    assert part["Content-Transfer-Encoding"] == "base64"
    text = part.get_payload()
    assert isinstance(text, str)
    part.set_payload(edit(text))
    return msg.as_bytes()


def reasons(extraction: Extraction) -> dict[str, str]:
    return {f.where: f.detail for f in extraction.findings}


def rows(extraction: Extraction, source: str) -> list[tuple[str, ...] | None]:
    return [u.cells for u in extraction.units if u.source == source]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("!!!not*base64%%%\r\n====\r\n", "corrupt base64: declared " + XLSX + ", decodes to text"),
        ("####\r\n%%%%\r\n", "undecodable base64"),
        ("====\r\n", "undecodable base64"),
    ],
)
def test_mail_broken_base64_attachment_is_uninspectable(body: str, reason: str) -> None:
    raw = reencoded("a.xlsx", make_xlsx({"S": ROWS}), XLSX, lambda _: body)
    ex = run(raw)
    assert reasons(ex) == {"attachment:a.xlsx": reason}
    assert [a.name for a in ex.attachments] == ["a.xlsx"]
    verdict = Inspector().check(raw)
    assert verdict.action is Action.HOLD
    assert [(f.detector, f.detail) for f in verdict.findings if f.detector == "uninspectable"] == [
        ("uninspectable", reason)
    ]


def test_mail_broken_base64_garbage_is_not_read_as_binary_strings() -> None:
    garbage = "\r\n".join(["!" + "AAAAAAAAAAAAAAAA" * 4 + "*"] * 20) + "\r\n"
    ex = run(reencoded("a.bin", b"\x00" * 600, "application/octet-stream", lambda _: garbage))
    assert reasons(ex) == {
        "attachment:a.bin": "corrupt base64: declared application/octet-stream, "
        "decodes to binary data"
    }


def _stray(text: str) -> str:
    """A '!' inside every line and a '*' at its end: characters outside the alphabet."""
    return "".join(f"{ln[:10]}!{ln[10:]}*\r\n" for ln in text.splitlines())


def _unpadded(text: str) -> str:
    assert text.rstrip().endswith("=")
    return text.rstrip().rstrip("=") + "\r\n"


def _csv() -> bytes:
    data = make_csv(ROWS)
    return data + b" " * (-len(data) % 3 + 1)  # one byte over whole groups: "==" padding


@pytest.mark.parametrize(
    ("name", "make", "mimetype", "edit"),
    [
        ("a.xlsx", lambda: make_xlsx({"S": ROWS}), XLSX, _stray),
        ("list.csv", _csv, "text/csv", _stray),
        ("list.csv", _csv, "text/csv", _unpadded),
    ],
    ids=["stray characters in xlsx", "stray characters in csv", "no padding"],
)
def test_mail_base64_with_harmless_damage_is_read(
    name: str, make: Callable[[], bytes], mimetype: str, edit: Callable[[str], str]
) -> None:
    ex = run(reencoded(name, make(), mimetype, edit))
    assert ex.findings == []
    # An xlsx also gives one unit without cells for each part that may hold text
    # (docProps/app.xml, docProps/core.xml, xl/workbook.xml).
    parts = [None] * 3 if name.endswith(".xlsx") else []
    assert rows(ex, f"attachment:{name}") == [tuple(r) for r in ROWS] + parts
    assert any("InvalidBase64" in d for d in ex.defects), ex.defects


def test_mail_base64_one_letter_too_many_decodes_the_whole_groups() -> None:
    # bpo-27397: the stdlib returns the *encoded* text for a body with one letter too many.
    data = make_csv(ROWS)
    data += b" " * (-len(data) % 3)  # no padding: the extra letter makes a group of one
    ex = run(reencoded("list.csv", data, "text/csv", lambda t: t.rstrip() + "Q\r\n"))
    assert ex.findings == []
    assert rows(ex, "attachment:list.csv") == [tuple(r) for r in ROWS]
    assert any("InvalidBase64LengthDefect" in d for d in ex.defects), ex.defects


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("AAAAAAAAAAAAAAAA!!!\r\n", "corrupt base64: text decodes to binary data"),
        ("#### %%%%\r\n", "undecodable base64"),
    ],
)
def test_mail_broken_base64_body_is_uninspectable(body: str, reason: str) -> None:
    raw = (
        "From: a@org.example\r\nTo: b@partner.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
    ).encode()
    ex = run(raw)
    assert reasons(ex) == {"body": reason}
    assert [u.where for u in ex.units] == []


def test_mail_broken_base64_body_that_decodes_to_text_is_read() -> None:
    raw = (
        b"From: a@org.example\r\nTo: b@partner.example\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"Q0hBTiBUYWkgTWFu!!!IDkxMjM0NTY3*\r\n"
    )
    ex = run(raw)
    assert ex.findings == []
    assert [(u.where, u.text) for u in ex.units] == [("body", "CHAN Tai Man 91234567")]


def test_mail_quoted_printable_damage_keeps_the_text() -> None:
    """Quoted-printable has no invalid input: a broken escape stays as it is and the
    content is still read (nothing to flag)."""
    msg = EmailMessage()
    msg["From"] = "a@org.example"
    msg["To"] = "b@partner.example"
    msg.set_content("see attached")
    msg.add_attachment(make_csv(ROWS), maintype="text", subtype="csv", filename="list.csv")
    part = next(msg.iter_attachments())
    part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload("Name,Tel=ZZ\r\nCHAN Tai Man,9123=\r\n4567\r\n=\r\n")
    ex = run(msg.as_bytes())
    assert ex.findings == []
    assert rows(ex, "attachment:list.csv") == [("Name", "Tel=ZZ"), ("CHAN Tai Man", "91234567")]
