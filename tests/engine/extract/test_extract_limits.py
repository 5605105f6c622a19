"""Hostile input: bombs, encryption, corruption and every limit end in an ``uninspectable``
finding with its reason, quickly and within memory; nothing raises, nothing is skipped."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from fpdf import FPDF
from tests.factories import make_csv, make_docx, make_eml, make_xlsx, make_zip

from postwarden.engine.extract import Extraction, extract
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

LIMITS = Limits()
ROOT = Path(__file__).resolve().parents[3]


def run(raw: bytes, limits: Limits = LIMITS, seconds: float = 60) -> Extraction:
    return extract(parse_message(raw, None, limits), limits, time.monotonic() + seconds)


def mail(*attachments: tuple[str, bytes, str]) -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="s",
        body="hello",
        attachments=attachments,
    )


def reasons(extraction: Extraction) -> dict[str, str]:
    return {f.where: f.detail for f in extraction.findings}


def zeros_zip(size: int, level: int = 9) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        with zf.open("zeros.bin", "w") as member:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(block)
    return buf.getvalue()


def lie_about_size(data: bytes, size: int) -> bytes:
    """Rewrite a one-member zip's declared uncompressed size (local and central headers)."""
    out = bytearray(data)
    struct.pack_into("<I", out, 22, size)
    central = out.rindex(b"PK\x01\x02")
    struct.pack_into("<I", out, central + 24, size)
    return bytes(out)


def overlapping(data: bytes, copies: int, shift: int = 0) -> bytes:
    """Fifield's overlap: many central-directory entries for one member's data, each
    ``shift`` bytes further in (0: full overlap, the same local header again and again)."""
    central = data.rindex(b"PK\x01\x02")
    eocd = data.rindex(b"PK\x05\x06")
    entry = data[central:eocd]
    entries = []
    for i in range(copies):
        one = bytearray(entry)
        struct.pack_into("<I", one, 42, i * shift)
        entries.append(bytes(one))
    directory = b"".join(entries)
    end = bytearray(data[eocd:])
    struct.pack_into("<HHII", end, 8, copies, copies, len(directory), central)
    return data[:central] + directory + bytes(end)


def nested(levels: int, copies: int) -> bytes:
    """42.zip style: each level holds ``copies`` copies of the level below."""
    data = make_zip({"zeros.txt": bytes(64 * 1024)})
    for level in range(levels):
        data = make_zip({f"{level}-{i}.zip": data for i in range(copies)})
    return data


def test_zip_ratio_bomb_is_uninspectable() -> None:
    ex = run(mail(("bomb.zip", zeros_zip(32 << 20), "application/zip")))
    assert reasons(ex)["attachment:bomb.zip/zeros.bin"].startswith("zip bomb: expansion ratio")


def test_zip_lying_sizes_are_uninspectable() -> None:
    bomb = lie_about_size(zeros_zip(32 << 20), 1000)
    ex = run(mail(("bomb.zip", bomb, "application/zip")))
    assert reasons(ex)["attachment:bomb.zip/zeros.bin"].startswith("corrupt zip member")


@pytest.mark.parametrize("shift", [0, 7])
def test_zip_overlap_bomb_is_uninspectable(shift: int) -> None:
    bomb = overlapping(make_zip({"a": bytes(1 << 20)}), copies=200, shift=shift)
    started = time.monotonic()
    ex = run(mail(("overlap.zip", bomb, "application/zip")))
    assert time.monotonic() - started < 2
    assert reasons(ex) == {"attachment:overlap.zip": "zip bomb: overlapping entries in zip"}


def test_zip_nested_deeper_than_the_limit() -> None:
    started = time.monotonic()
    ex = run(mail(("42.zip", nested(levels=12, copies=16), "application/zip")))
    assert time.monotonic() - started < 5
    found = set(reasons(ex).values())
    assert "nesting deeper than 10" in found
    assert any(r.startswith("zip bomb: total expansion over limit") for r in found)


def test_zip_too_many_members() -> None:
    data = make_zip({f"{i}.txt": b"" for i in range(1001)})
    ex = run(mail(("many.zip", data, "application/zip")))
    assert reasons(ex) == {"attachment:many.zip": "zip with 1001 members, over limit 1000"}


@pytest.mark.parametrize(
    ("encrypt", "reason"),
    [("aes", "encrypted zip member (AES)"), ("zipcrypto", "encrypted zip member")],
)
def test_zip_encrypted_members(encrypt: Literal["aes", "zipcrypto"], reason: str) -> None:
    data = make_zip({"voters.csv": make_csv([["a"], ["b"]]), "x.txt": b"x"}, encrypt=encrypt)
    ex = run(mail(("locked.zip", data, "application/zip")))
    assert reasons(ex) == {
        "attachment:locked.zip/voters.csv": reason,
        "attachment:locked.zip/x.txt": reason,
    }


def test_zipcrypto_factory_writes_a_real_archive() -> None:
    data = make_zip({"a.txt": b"secret text"}, encrypt="zipcrypto", password=b"pw")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("a.txt", pwd=b"pw") == b"secret text"


def test_zip_member_names_are_only_names() -> None:
    names = {
        "../../x.txt": b"one",
        "/etc/x.txt": b"two",
        "C:\\x.txt": b"three",
        "a\u202eb.txt": b"4",
    }
    ex = run(mail(("paths.zip", make_zip(names), "application/zip")))
    got = {u.where: u.text for u in ex.units if u.where.startswith("attachment:paths.zip")}
    assert got == {
        "attachment:paths.zip/../../x.txt": "one",
        "attachment:paths.zip//etc/x.txt": "two",
        "attachment:paths.zip/C:\\x.txt": "three",
        "attachment:paths.zip/a?b.txt": "4",
        # The names as words, a bidi control taken out (walker.name_text).
        "attachment:paths.zip#file names": (
            ".. / .. / x .txt\n / etc / x .txt\nC: / x .txt\na b .txt"
        ),
    }


def test_zip_inside_eml_inside_zip_inside_eml() -> None:
    inner = mail(
        ("deep.zip", make_zip({"c.csv": make_csv([["x"], ["陳大文"]])}), "application/zip")
    )
    outer = mail(("box.zip", make_zip({"fwd.eml": inner}), "application/zip"))
    ex = run(outer)
    assert [
        u.cells for u in ex.units if u.where == "attachment:box.zip/fwd.eml/deep.zip/c.csv#R2"
    ] == [("陳大文",)]


def _with_doctype(data: bytes, part: str, doctype: bytes) -> bytes:
    """The office file with a DOCTYPE put in front of one part's root element."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    xml = members[part]
    cut = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    members[part] = xml[:cut] + doctype + xml[cut:]
    return make_zip(members)


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>',
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ],
)
def test_office_xml_with_dtd_is_refused(doctype: bytes) -> None:
    docx = _with_doctype(make_docx(["hello"]), "word/document.xml", doctype)
    xlsx = _with_doctype(make_xlsx({"S": [["a"]]}), "xl/workbook.xml", doctype)
    ex = run(mail(("a.docx", docx, "application/octet-stream"), ("b.xlsx", xlsx, "application/x")))
    assert reasons(ex) == {
        "attachment:a.docx": "XML with a DTD in docx document (entity bomb or external entity)",
        "attachment:b.xlsx": "XML with a DTD in xlsx workbook (entity bomb or external entity)",
    }


def test_office_duplicate_part_names_are_refused() -> None:
    data = make_xlsx({"S": [["a"]]})
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        # zipfile warns, and writes it: a second sheet1.xml a reader may pick instead.
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("xl/worksheets/sheet1.xml", b"<worksheet/>")
    ex = run(mail(("dup.xlsx", buf.getvalue(), "application/x")))
    assert reasons(ex) == {"attachment:dup.xlsx": "duplicate part names in xlsx workbook"}


def test_pdf_encrypted_and_corrupt() -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="user")  # noqa: S106 - a fixture
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="A123456(3)")
    locked = bytes(pdf.output())
    broken = b"%PDF-1.7\n" + bytes(range(256)) * 4
    ex = run(
        mail(("locked.pdf", locked, "application/pdf"), ("bad.pdf", broken, "application/pdf"))
    )
    found = reasons(ex)
    assert found["attachment:locked.pdf"] == "encrypted pdf"
    assert found["attachment:bad.pdf"].startswith("corrupt pdf")


def test_unsupported_archive_and_corrupt_zip() -> None:
    ex = run(
        mail(
            ("a.rar", b"Rar!\x1a\x07\x01\x00" + bytes(100), "application/x-rar"),
            ("t.zip", make_zip({"a.txt": b"x" * 1000})[:-30], "application/zip"),
        )
    )
    found = reasons(ex)
    assert found["attachment:a.rar"] == "unsupported archive format (rar archive)"
    assert found["attachment:t.zip"].startswith("corrupt zip")


@pytest.mark.parametrize(
    ("limits", "where", "reason"),
    [
        (
            Limits(max_text_bytes=10_000),
            "z.zip/in.zip/c.csv",
            "extracted text over limit 9.766 KiB",
        ),
        (
            Limits(max_part_bytes=1000),
            "z.zip/in.zip/c.csv",
            "zip member of 22.46 KiB over limit 1000 bytes",
        ),
        (Limits(max_depth=2), "z.zip/in.zip", "nesting deeper than 2"),
    ],
)
def test_limits_are_configurable(limits: Limits, where: str, reason: str) -> None:
    csv = make_csv([["CHAN Tai Man", "91234567"]] * 1000)
    raw = mail(("z.zip", make_zip({"in.zip": make_zip({"c.csv": csv})}), "application/zip"))
    assert reasons(run(raw, limits)) == {f"attachment:{where}": reason}
    assert reasons(run(raw)) == {}


def test_time_limit() -> None:
    ex = run(mail(("c.csv", make_csv([["a"]]), "text/csv")), seconds=-1)
    assert reasons(ex) == {"message": "time limit 120 s exceeded"}


def test_too_many_mime_parts() -> None:
    raw = mail(*[(f"{i}.txt", b"x", "text/plain") for i in range(12)])
    ex = run(raw, Limits(max_members=10))
    assert reasons(ex) == {"body": "13 MIME parts, over limit 10"}


def test_oversized_headers_are_uninspectable() -> None:
    raw = b"Subject: " + b"x" * 2000 + b"\r\nTo: a@b.example\r\n\r\nbody"
    ex = run(raw, Limits(max_header_bytes=1000))
    assert reasons(ex) == {"headers": "headers of 2026 bytes over limit 1000"}


HOSTILE = {
    "100k header": b"From: a@o.example\r\nTo: b@p.example\r\nX-Long: "
    + b"a" * 100_000
    + b"\r\nSubject: hi\r\n\r\nbody text\r\n",
    "nul bytes": b"From: a@o.example\x00\r\nTo: b@p.example\r\n\r\nbody\x00 text\x00\r\n",
    "missing closing boundary": b"From: a@o.example\r\nTo: b@p.example\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
    b"Content-Type: text/plain\r\n\r\nbody text\r\n--XX\r\nContent-Type: text/csv\r\n\r\na,b\r\n",
    "broken base64": b"From: a@o.example\r\nTo: b@p.example\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nYm9keSB0ZXh0!!!IGFuZCBtb3Jl*\r\n",
    "wrong boundary": b"From: a@o.example\r\nTo: b@p.example\r\n"
    b'Content-Type: multipart/mixed; boundary="nothere"\r\n\r\n--other\r\n\r\nbody text\r\n',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_messages_yield_units(name: str) -> None:
    ex = run(HOSTILE[name])
    assert any("body" in u.text for u in ex.units), [u.text[:40] for u in ex.units]


_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from postwarden.engine.extract import extract
    from postwarden.engine.parse import parse_message
    from postwarden.settings import Limits

    def peak_mib():
        # VmHWM is this process's own peak; ru_maxrss survives exec and so would include
        # the pytest parent's peak on Linux.
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with open(sys.argv[1], "rb") as fh:
        raw = fh.read()
    limits = Limits()
    started = time.monotonic()
    ex = extract(parse_message(raw, None, limits), limits, started + 120)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "reasons": sorted(f.detail for f in ex.findings),
        "max_rss_mib": peak_mib(),
    }))
    """
)


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()


def _many_members(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(count):
            zf.writestr(str(i), b"")
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "build", "expected"),
    [
        ("bomb.zip", lambda: zeros_zip((1 << 30) + (64 << 20)), "zip bomb: expansion ratio "),
        ("bomb.gz", lambda: _gzip_bomb((1 << 30) + (64 << 20)), "gzip content over limit 50 MiB"),
        ("many.zip", lambda: _many_members(100_000), "zip with 100000 members, over limit 1000"),
    ],
)
def test_bombs_cost_little_time_and_memory(
    name: str, build: Callable[[], bytes], expected: str, tmp_path: Path
) -> None:
    """Measured in a subprocess that only reads and inspects the message (the gateway's
    position), so the peak RSS is the inspection's, not the bomb builder's."""
    path = tmp_path / "bomb.eml"
    path.write_bytes(mail((name, build(), "application/octet-stream")))
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    out = json.loads(result.stdout)
    [reason] = out["reasons"]
    assert reason.startswith(expected), out
    assert out["seconds"] < 5, out
    assert out["max_rss_mib"] < 256, out


@pytest.mark.parametrize(
    ("opened", "count"), [("<x ", 30_000), ('<a "', 25_000), ("<!--", 40_000), ("</", 200_000)]
)
def test_html_left_open_closes_in_linear_time(opened: str, count: int) -> None:
    """The stdlib's HTML parser is quadratic on markup left open (at its close each ``<x``,
    ``<!--`` or ``</`` is scanned to the end before it is read as text: each of these took
    from 5 s to a minute of CPU, a megabyte would take hours); the close is charged for
    what it rescans and reads the rest as text past an allowance (html._Collector.finish),
    so the message is read whole, well inside its time limit."""
    raw = make_eml(
        sender="a@o.example", to=["b@p.example"], subject="s", body="plain", html=opened * count
    )
    started = time.process_time()
    ex = run(raw, seconds=60)
    assert time.process_time() - started < 4
    assert reasons(ex) == {}


def test_html_left_open_is_still_read_as_text() -> None:
    html = "<p>Tel <x <y 91234567 <!-- CHAN Tai Man"
    raw = make_eml(sender="a@o.example", to=["b@p.example"], subject="s", body="plain", html=html)
    ex = run(raw)
    assert reasons(ex) == {}
    assert [u.text for u in ex.units if u.where == "body"] == [
        "plain\n",
        "Tel <x <y 91234567 <!-- CHAN Tai Man",
    ]
