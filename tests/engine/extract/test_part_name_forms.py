"""Part names written in other forms -- percent-encoded (``xl/work%73heets/sheet1.xml``,
``word/docu%6Dent.xml``), with ``.``, ``..`` or ``//`` segments, in another case -- in
relationship targets, content-type overrides and member names: every part is read by some
reader or the file is refused, never one part read in another's place and the other left
unread.  Calamine takes a worksheet's target as written where `office.relationships`
resolves it as OPC does: a workbook whose ``xl/worksheets/sheet1.xml`` held the cells and
``xl/./worksheets/sheet1.xml`` a decoy named by the relationship was read as the decoy, the
cells never (and so was a part named by a relationship of the shared strings' type)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from tests.factories import make_docx, make_xlsx

from postwarden.engine.extract import extract_file
from postwarden.settings import Limits

HKID = "A123456(3)"
RELS = "xl/_rels/workbook.xml.rels"
TYPES = "[Content_Types].xml"
SHEET = "xl/worksheets/sheet1.xml"
TARGET = b'Target="/xl/worksheets/sheet1.xml"'
WORKBOOK = make_xlsx({"S": [["name", "id"], ["CHAN Tai Man", HKID]]})
DECOY = make_xlsx({"S": [["nothing", "here"]]})


def rewritten(
    data: bytes,
    names: dict[str, str] | None = None,
    edits: dict[str, tuple[bytes, bytes]] | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """``data`` with members renamed, bytes of members replaced and members added."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as z,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w,
    ):
        for info in z.infolist():
            body = z.read(info)
            if info.filename in (edits or {}):
                old, new = (edits or {})[info.filename]
                assert old in body
                body = body.replace(old, new)
            w.writestr((names or {}).get(info.filename, info.filename), body)
        for name, body in (extra or {}).items():
            w.writestr(name, body)
    return out.getvalue()


def outcome(data: bytes, name: str) -> tuple[list[str], list[str]]:
    """Where the HKID was read, and why the file was refused."""
    extraction = extract_file(name, data, Limits(), time.monotonic() + 60)
    read = [unit.where.removeprefix("attachment:") for unit in extraction.units]
    texts = [unit.text for unit in extraction.units]
    return [w for w, t in zip(read, texts, strict=True) if HKID in t], [
        f.detail for f in extraction.findings
    ]


def decoy_sheet() -> bytes:
    with zipfile.ZipFile(io.BytesIO(DECOY)) as z:
        return z.read(SHEET)


@pytest.mark.parametrize(
    ("target", "decoy"),
    [
        (b'Target="/xl/./worksheets/sheet1.xml"', "xl/./worksheets/sheet1.xml"),
        (b'Target="./worksheets/sheet1.xml"', "xl/./worksheets/sheet1.xml"),
        (b'Target="/xl/foo/../worksheets/sheet1.xml"', "xl/foo/../worksheets/sheet1.xml"),
        (b'Target="/xl//worksheets/sheet1.xml"', "xl//worksheets/sheet1.xml"),
        (b'Target="/xl/worksheets/./sheet1.xml"', "xl/worksheets/./sheet1.xml"),
    ],
)
def test_a_decoy_calamine_reads_in_a_worksheets_place_leaves_it_read(
    target: bytes, decoy: str
) -> None:
    data = rewritten(WORKBOOK, edits={RELS: (TARGET, target)}, extra={decoy: decoy_sheet()})
    assert outcome(data, "a.xlsx") == ([f"a.xlsx#{SHEET}"], [])


def test_a_part_of_the_shared_strings_type_at_another_name_is_read() -> None:
    # calamine reads xl/sharedStrings.xml by its name, whatever a relationship says
    plain = make_xlsx({"S": [["name", "id"], ["CHAN Tai Man", "nothing"]]})
    strings = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
        + HKID.encode()
        + b"</t></si></sst>"
    )
    relation = (
        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="secret.xml" Id="rId99"/></Relationships>'
    )
    data = rewritten(
        plain, edits={RELS: (b"</Relationships>", relation)}, extra={"xl/secret.xml": strings}
    )
    assert outcome(data, "a.xlsx") == (["a.xlsx#xl/secret.xml"], [])


PERCENT = b'Target="/xl/work%73heets/sheet1.xml"'
PERCENT_PART = "xl/work%73heets/sheet1.xml"
PERCENT_TYPE = (b"/xl/worksheets/sheet1.xml", b"/xl/work%73heets/sheet1.xml")
REFUSED = ([], ["corrupt xlsx workbook: S"])


@pytest.mark.parametrize(
    ("names", "edits", "extra", "expected"),
    [
        # a percent-encoded target of the part: calamine finds no such part
        ({}, {RELS: (TARGET, PERCENT)}, {}, REFUSED),
        ({}, {RELS: (TARGET, b'Target="work%73heets/sheet1.xml"')}, {}, REFUSED),
        ({}, {RELS: (TARGET, PERCENT), TYPES: PERCENT_TYPE}, {}, REFUSED),
        # a part whose name holds the escape, named so: read as the sheet
        (
            {SHEET: PERCENT_PART},
            {RELS: (TARGET, PERCENT), TYPES: PERCENT_TYPE},
            {},
            (["a.xlsx#S!R2"], []),
        ),
        # the cells at the escaped name, a decoy at the plain one: both read
        ({SHEET: PERCENT_PART}, {RELS: (TARGET, PERCENT)}, {SHEET: b""}, (["a.xlsx#S!R2"], [])),
        ({SHEET: PERCENT_PART}, {}, {SHEET: b""}, ([f"a.xlsx#{PERCENT_PART}"], [])),
        # the workbook at an escaped name: not a workbook, every part read
        (
            {"xl/workbook.xml": "xl/work%62ook.xml"},
            {"_rels/.rels": (b"xl/workbook.xml", b"xl/work%62ook.xml")},
            {},
            ([f"a.xlsx#{SHEET}"], []),
        ),
    ],
)
def test_percent_encoded_workbook_parts_are_read_or_refused(
    names: dict[str, str],
    edits: dict[str, tuple[bytes, bytes]],
    extra: dict[str, bytes],
    expected: tuple[list[str], list[str]],
) -> None:
    extra = {name: body or decoy_sheet() for name, body in extra.items()}
    data = rewritten(WORKBOOK, names=names, edits=edits, extra=extra)
    assert outcome(data, "a.xlsx") == expected


LETTER = make_docx([f"CHAN Tai Man {HKID}"], header=[f"header {HKID}"])
ROOT_MAIN = (b'Target="word/document.xml"', b'Target="word/docu%6Dent.xml"')
HEADER = (b'Target="header1.xml"', b'Target="head%65r1.xml"')
DOCUMENT_RELS = "word/_rels/document.xml.rels"


@pytest.mark.parametrize(
    ("names", "edits", "expected"),
    [
        ({}, {}, (["a.docx#body", "a.docx#header"], [])),
        # the main document's target escaped: no main document, refused
        ({}, {"_rels/.rels": ROOT_MAIN}, ([], ["corrupt docx document: no main document part"])),
        # its part escaped too: not a docx, every part read
        (
            {"word/document.xml": "word/docu%6Dent.xml"},
            {"_rels/.rels": ROOT_MAIN},
            (["a.docx#word/docu%6Dent.xml", "a.docx#word/header1.xml"], []),
        ),
        # a header's target escaped: the header part is read all the same
        ({}, {DOCUMENT_RELS: HEADER}, (["a.docx#body", "a.docx#word/header1.xml"], [])),
        (
            {"word/header1.xml": "word/head%65r1.xml"},
            {DOCUMENT_RELS: HEADER},
            (["a.docx#body", "a.docx#header"], []),
        ),
    ],
)
def test_percent_encoded_document_parts_are_read_or_refused(
    names: dict[str, str],
    edits: dict[str, tuple[bytes, bytes]],
    expected: tuple[list[str], list[str]],
) -> None:
    assert outcome(rewritten(LETTER, names=names, edits=edits), "a.docx") == expected
