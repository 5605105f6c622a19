"""A part's verdict is remembered with its digest (`office.judged`, `Verified.judgement`):
`grids.check_grids` judges every part a workbook's relationships name, the theme and
styles too, and a part `open_package` did not keep was inflated again for it; the very
same bytes get the very same verdict, so a template's theme is judged once."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from tests.engine.extract.test_sheet_grid import sparse_book

from postwarden.engine.extract import grids, office, spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits


def as_theme(data: bytes) -> bytes:
    """``data`` with its worksheet moved to the theme's name (a part no reader keeps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            body = z.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(b"worksheets/sheet1.xml", b"theme/theme1.xml")
            w.writestr(info.filename.replace("worksheets/sheet1.xml", "theme/theme1.xml"), body)
    return out.getvalue()


def extracted(data: bytes, limits: Limits | None = None) -> tuple[list[str], str | None]:
    walker = Walker(Budget(limits or Limits(), len(data), time.monotonic() + 60))
    try:
        spreadsheet.SpreadsheetExtractor().extract(data, "x", 0, sniff(data, "x.xlsx"), walker)
    except Uninspectable as exc:
        return [u.text for u in walker.units], exc.reason
    return [u.text for u in walker.units], None


@pytest.fixture
def inflations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The parts inflated again, with a fresh memory."""
    monkeypatch.setattr(office, "VERIFIED", office.Verified(10_000))
    seen: list[str] = []
    inflate = office._inflated_again

    def spy(package: office.Package, info: zipfile.ZipInfo) -> bytes:
        seen.append(info.filename)
        return inflate(package, info)

    monkeypatch.setattr(office, "_inflated_again", spy)
    return seen


def test_a_part_judged_once_is_not_inflated_again(inflations: list[str]) -> None:
    bomb = as_theme(sparse_book(["A1", "XFD3051"]))
    reason = extracted(bomb)[1]
    assert reason is not None
    assert "xl/theme/theme1.xml" in reason
    assert "49,987,584" in reason
    assert inflations == ["xl/theme/theme1.xml"]
    assert extracted(bomb)[1] == reason  # told again without inflating
    assert inflations == ["xl/theme/theme1.xml"]
    # The verdict is of the bytes, the limit applied each time.
    assert extracted(bomb, Limits(max_sheet_cells=50_000_000))[1] is None
    assert inflations == ["xl/theme/theme1.xml"]


def test_a_verdict_is_of_the_bytes_not_the_name(inflations: list[str]) -> None:
    small = as_theme(sparse_book(["A1", "B2"]))
    assert extracted(small)[1] is None
    bomb = as_theme(sparse_book(["A1", "XFD3051"]))
    assert "49,987,584" in str(extracted(bomb)[1])
    assert inflations == ["xl/theme/theme1.xml", "xl/theme/theme1.xml"]
    assert extracted(small) == extracted(small)
    assert len(inflations) == 2


def test_remembered_and_fresh_verdicts_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    books = [
        sparse_book(["A1", "C3"]),
        as_theme(sparse_book(["A1", "C3"])),
        as_theme(sparse_book(["A1", "XFD3051"])),
        as_theme(sparse_book(["B2", "A1"])),
        sparse_book(["A1", "XFD1048576"]),
    ]
    for limit in (1, 8, 9, 5_000_000):
        limits = Limits(max_sheet_cells=limit)
        monkeypatch.setattr(office, "VERIFIED", office.Verified(0))
        fresh = [extracted(book, limits) for book in books]
        monkeypatch.setattr(office, "VERIFIED", office.Verified(10_000))
        assert [extracted(book, limits) for book in books] == fresh
        assert [extracted(book, limits) for book in books] == fresh


def test_a_verdict_is_kept_for_its_judge_and_while_its_key_is() -> None:
    remembered = office.Verified(1)
    key = (b"digest", 8, 1, 2, True, None)
    remembered.remember(key, grids.sheet_grid, 5)
    assert remembered.judgement(key, grids.sheet_grid) is None  # key not remembered
    remembered.add(key)
    remembered.remember(key, grids.sheet_grid, 5)
    assert remembered.judgement(key, grids.sheet_grid) == 5
    assert remembered.judgement(key, grids.xlsb_grid) is None
    assert remembered.seen(key)
    assert remembered.judgement(key, grids.sheet_grid) == 5  # kept when seen
    remembered.add((b"other", 8, 1, 2, True, None))  # the one slot: the first key forgotten
    assert remembered.judgement(key, grids.sheet_grid) is None
