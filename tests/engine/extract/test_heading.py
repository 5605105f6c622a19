"""Column headings: table rows of spreadsheets, csv, html and docx carry their table's
headings (one shared tuple), and the detectors read them (a date under DOB)."""

from __future__ import annotations

import datetime as dt
import io
import time

import docx
import pytest
from docx.oxml import OxmlElement
from tests.factories import make_csv, make_docx, make_eml, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.extract import Extraction, extract
from postwarden.engine.extract.heading import heading
from postwarden.engine.parse import parse_message
from postwarden.model import TextUnit
from postwarden.settings import Limits

LIMITS = Limits()


def run(raw: bytes) -> Extraction:
    return extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)


def mail(*attachments: tuple[str, bytes, str], html: str | None = None) -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="records",
        body="see attached",
        html=html,
        attachments=attachments,
    )


def rows_of(extraction: Extraction, prefix: str) -> list[TextUnit]:
    rows = [u for u in extraction.units if u.where.startswith(prefix)]
    assert rows, [u.where for u in extraction.units]
    return rows


def assert_one_header(rows: list[TextUnit], expected: tuple[str, ...] | None) -> None:
    """Every row carries the expected headings, as one shared tuple object."""
    assert rows[0].header == expected
    assert all(r.header is rows[0].header for r in rows), [r.header for r in rows]


@pytest.mark.parametrize(
    ("cells", "is_heading"),
    [
        (("Name", "DOB", "Tel", "Address"), True),
        (("姓名", "出生日期", "電話"), True),
        (("id", "name_en", "name_zh", "address", "phone"), True),
        (("Name", "", "Tel 2", "Address line 1"), True),
        (("No.", "Name", "Year 2023", "Year 2024", "Remarks"), True),
        (("Name", "2024", "Q1", "Q2", "Q3", "Q4"), True),
        (("CHAN Tai Man", "91234567"), False),
        (("CHAN Tai Man", "陳大文", "Flat 1, 2/F, Block B", "91234567"), False),
        (("1", "CHAN Tai Man", "A123456(3)", "1980-01-01"), False),
        (("Ann Lee", "ann@partner.example"), False),
        (("x" * 65, "Name"), False),
        (("", ""), False),
        ((), False),
    ],
)
def test_heading_takes_short_text_rows_only(cells: tuple[str, ...], is_heading: bool) -> None:
    assert (heading(cells) == cells) is is_heading
    assert heading(cells) is None or is_heading


def test_heading_xlsx_dob_column_gives_dob_findings() -> None:
    people = [
        (f"CHAN Tai Man {i}", dt.datetime(1950 + i % 50, 1 + i % 12, 1 + i % 28)) for i in range(40)
    ]
    headed = make_xlsx({"Voters": [["Name", "DOB"], *[[n, d] for n, d in people]]})
    bare = make_xlsx({"Voters": [[n, d] for n, d in people]})
    inspector = Inspector()
    verdict = inspector.check(mail(("voters.xlsx", headed, "application/octet-stream")))
    dobs = [f for f in verdict.findings if f.detector == "dob"]
    assert len(dobs) == len(people)
    assert {f.where for f in dobs} == {f"attachment:voters.xlsx#Voters!R{n}" for n in range(2, 42)}
    # The same dates without the heading have no birth context: the heading made them DOBs.
    verdict = inspector.check(mail(("voters.xlsx", bare, "application/octet-stream")))
    assert [f for f in verdict.findings if f.detector == "dob"] == []


def test_heading_xlsx_rows_share_one_tuple_per_sheet() -> None:
    data = make_xlsx(
        {
            "Voters": [[None], ["Name", "DOB", "Tel"], ["陳大文", "1980-02-29", 91234567]]
            + [[f"CHAN {i}", "1980-01-01", 91234567 + i] for i in range(50)],
            "Plain": [["CHAN Tai Man", 91234567], ["WONG Siu Ming", 61234567]],
        }
    )
    ex = run(mail(("voters.xlsx", data, "application/octet-stream")))
    voters = rows_of(ex, "attachment:voters.xlsx#Voters!")
    assert voters[0].where.endswith("!R2")  # the first row is empty: the heading is R2
    assert_one_header(voters, ("Name", "DOB", "Tel"))
    assert voters[1].cells == ("陳大文", "1980-02-29", "91234567")
    assert_one_header(rows_of(ex, "attachment:voters.xlsx#Plain!"), None)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["姓名", "電話"], ["陳大文", "91234567"], ["李小明", "61234567"]], ("姓名", "電話")),
        ([["陳大文", "91234567"], ["李小明", "61234567"]], None),
    ],
)
def test_heading_csv_first_record(rows: list[list[str]], expected: tuple[str, ...] | None) -> None:
    ex = run(mail(("list.csv", make_csv(rows), "text/csv")))
    found = rows_of(ex, "attachment:list.csv#R")
    assert len(found) == len(rows)
    assert_one_header(found, expected)


def test_heading_html_th_row_and_first_row_by_looks() -> None:
    html = (
        "<table><tr><th>Name</th><th>2024</th></tr><tr><td>CHAN Tai Man</td><td>9</td></tr>"
        "<tr><td>WONG</td><td>7</td></tr></table>"
        "<table><tr><td>Name</td><td>Tel</td></tr><tr><td>CHAN</td><td>91234567</td></tr>"
        "<tr><td>LEE</td><td>61234567</td></tr></table>"
        "<table><tr><td>CHAN</td><td>91234567</td></tr><tr><td>LEE</td><td>61234567</td></tr>"
        "</table>"
    )
    ex = run(mail(html=html))
    # A <th> row is a heading even with a year in it; a plain first row only by its looks.
    assert_one_header(rows_of(ex, "body#table 1!"), ("Name", "2024"))
    assert_one_header(rows_of(ex, "body#table 2!"), ("Name", "Tel"))
    assert_one_header(rows_of(ex, "body#table 3!"), None)


def _marked_header_docx() -> bytes:
    """A docx whose first table row is Word's repeated header row (``w:tblHeader``)."""
    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([["Ref 2023", "1"], ["CHAN Tai Man", "91234567"], ["LEE", "6"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    properties = table.rows[0]._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:tblHeader"))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_heading_docx_tables() -> None:
    data = make_docx(
        tables=[
            [["Name", "DOB"], ["CHAN Tai Man", "1980-01-01"], ["LEE", "1990-02-02"]],
            [["CHAN Tai Man", "91234567"], ["LEE", "61234567"]],
        ]
    )
    ex = run(mail(("letter.docx", data, "application/octet-stream")))
    assert_one_header(rows_of(ex, "attachment:letter.docx#table 1!"), ("Name", "DOB"))
    assert_one_header(rows_of(ex, "attachment:letter.docx#table 2!"), None)
    # Marked by Word as the header row: taken although half of it is a number.
    ex = run(mail(("marked.docx", _marked_header_docx(), "application/octet-stream")))
    assert_one_header(rows_of(ex, "attachment:marked.docx#table 1!"), ("Ref 2023", "1"))
