"""Register subjects counted through the whole engine, on real files made by their libraries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import opencc
import pytest
from tests.engine.registers.conftest import Imported
from tests.engine.registers.people import (
    People,
    address_en_abbreviated,
    fullwidth,
    name_en_as,
)
from tests.factories import make_csv, make_docx, make_eml, make_pdf, make_xlsx, make_zip

from postwarden.engine import Inspector, Report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",), registers=voters.registers())


def _sample(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(20_000, size=n, replace=False)


def _send(
    inspector: Inspector,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    body: str = "Please see attached.",
    html: str | None = None,
) -> Report:
    raw = make_eml(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="list",
        body=body,
        html=html,
        attachments=attachments,
    )
    return inspector.inspect(raw)


def _assert_exact(report: Report, idx: np.ndarray) -> None:
    assert report.verdict.subjects == {"voters": len(idx)}
    assert report.record_ids == {"voters": set(idx.tolist())}
    assert sum(f.detector == "register:voters" for f in report.verdict.findings) == len(idx)


def _zip(*columns: list[str]) -> list[list[str]]:
    return [list(r) for r in zip(*columns, strict=True)]


def _strs(values: np.ndarray) -> list[str]:
    return [str(v) for v in values.tolist()]


@pytest.mark.slow
def test_inspect_15070_row_xlsx_leak_counted_exactly(
    inspector: Inspector, voters: Imported
) -> None:
    idx = _sample(15_070, seed=1)
    sheet = [list(People.COLUMNS), *voters.people.rows(People.COLUMNS, idx)]
    report = _send(inspector, [("voters.xlsx", make_xlsx({"Sheet1": sheet}), XLSX)])
    _assert_exact(report, idx)
    assert report.verdict.action.label in {"hold", "reject"}


def test_inspect_shuffled_columns(inspector: Inspector, voters: Imported) -> None:
    idx = _sample(300, seed=2)
    columns = ("status", "address_zh", "phone", "name_en", "id", "hkid", "name_zh", "address_en")
    sheet = [list(columns), *voters.people.rows(columns, idx)]
    _assert_exact(_send(inspector, [("a.xlsx", make_xlsx({"Data": sheet}), XLSX)]), idx)


def test_inspect_only_two_fields_in_other_spellings(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(300, seed=3)
    rows = _zip(name_en_as(p, idx, "hyphen"), address_en_abbreviated(p, idx))
    sheet = [["Name", "Address"], *rows]
    _assert_exact(_send(inspector, [("b.xlsx", make_xlsx({"S": sheet}), XLSX)]), idx)


def test_inspect_full_width_digits(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(300, seed=4)
    rows = _zip(_strs(p.name_zh[idx]), [fullwidth(v) for v in _strs(p.hkid[idx])])
    csv = make_csv([["姓名", "身份證號碼"], *rows])
    _assert_exact(_send(inspector, [("c.csv", csv, "text/csv")]), idx)


def test_inspect_chinese_only_in_simplified_characters(
    inspector: Inspector, voters: Imported
) -> None:
    p, idx = voters.people, _sample(300, seed=5)
    t2s = opencc.OpenCC("t2s")
    rows = _zip(
        [t2s.convert(v) for v in _strs(p.name_zh[idx])],
        [t2s.convert(v) for v in _strs(p.address_zh[idx])],
    )
    assert rows[0] != [str(p.name_zh[idx[0]]), str(p.address_zh[idx[0]])]
    sheet = [["姓名", "地址"], *rows]
    _assert_exact(_send(inspector, [("d.xlsx", make_xlsx({"名單": sheet}), XLSX)]), idx)


def test_inspect_csv_inside_zip_inside_zip(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(300, seed=6)
    rows = _zip(name_en_as(p, idx, "western"), _strs(p.address_zh[idx]))
    inner = make_zip({"list/voters.csv": make_csv([["name", "address"], *rows])})
    outer = make_zip({"inner.zip": inner})
    _assert_exact(_send(inspector, [("outer.zip", outer, "application/zip")]), idx)


def test_inspect_rows_in_an_html_table_body(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(200, seed=7)
    cells = "".join(
        f"<tr><td>{n}</td><td>{a}</td></tr>"
        for n, a in zip(p.name_zh[idx].tolist(), p.address_en[idx].tolist(), strict=True)
    )
    html = f"<html><body><p>List:</p><table><tbody>{cells}</tbody></table></body></html>"
    _assert_exact(_send(inspector, html=html), idx)


def test_inspect_rows_in_a_docx_table(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(80, seed=8)
    rows = _zip(_strs(p.name_en[idx]), _strs(p.dob[idx]))
    docx = make_docx(paragraphs=["Applicants"], tables=[[["Name", "Date of birth"], *rows]])
    _assert_exact(_send(inspector, [("e.docx", docx, DOCX)]), idx)


def test_inspect_lines_of_a_pdf(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(120, seed=9)
    lines = [
        f"{n}    {h}    {s}"
        for n, h, s in zip(
            p.name_en[idx].tolist(), p.hkid[idx].tolist(), p.status[idx].tolist(), strict=True
        )
    ]
    pdf = make_pdf([lines[:40], lines[40:80], lines[80:]])
    _assert_exact(_send(inspector, [("f.pdf", pdf, "application/pdf")]), idx)


def test_inspect_names_alone_count_nobody(inspector: Inspector, voters: Imported) -> None:
    p, idx = voters.people, _sample(500, seed=10)
    sheet = [["Name", "姓名"], *p.rows(("name_en", "name_zh"), idx)]
    report = _send(inspector, [("names.xlsx", make_xlsx({"S": sheet}), XLSX)])
    assert report.verdict.subjects == {"voters": 0}
    assert not any(f.detector.startswith("register:") for f in report.verdict.findings)


def test_inspect_one_hkid_in_a_body_counts_one(inspector: Inspector, voters: Imported) -> None:
    hkid = str(voters.people.hkid[4321])
    report = _send(inspector, body=f"Hi,\nplease check {hkid} for me.\nThanks")
    assert report.verdict.subjects == {"voters": 1}
    assert report.record_ids == {"voters": {4321}}
