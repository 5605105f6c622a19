"""pdf.py's `_Document` (a PDFium document opened without pypdfium2's object, which is made
only for a form or a page to render) against pypdfium2's ``PdfDocument(data)`` and
``init_forms()``, which the extractor used before: the same units, places, findings and
defects for every pdf of the tests and their mutants, and the same refusals."""

from __future__ import annotations

from typing import Any

import pypdfium2
import pytest
from tests.engine.extract.pdfs import pdfs
from tests.engine.extract.test_pdf_plain import _verdict
from tests.factories import make_pdf

from postwarden.engine.extract import pdf as pdf_module


class _Wrapped:
    """The general path: pypdfium2's document, its form environment made by ``init_forms``."""

    def __init__(self, data: bytes) -> None:
        self._pdf = pypdfium2.PdfDocument(data)
        self._pdf.init_forms()
        self.raw = self._pdf.raw

    @property
    def formenv(self) -> Any:
        return self._pdf.formenv

    def __len__(self) -> int:
        return len(self._pdf)

    def page(self, index: int) -> Any:
        return self._pdf[index]

    def close(self) -> None:
        self._pdf.close()


@pytest.mark.slow
def test_every_pdf_reads_the_same_through_pypdfium2s_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = pdfs()
    assert len(every) > 2000
    lean = [_verdict(data) for data in every]
    monkeypatch.setattr(pdf_module, "_Document", _Wrapped)
    differ = [i for i, data in enumerate(every) if _verdict(data) != lean[i]]
    assert differ == []
    refused = sum(1 for units, findings, _ in lean if findings)
    assert refused > 500  # encrypted, damaged, broken tables: the refusals compared too
    assert sum(1 for units, _, _ in lean if units) > 500


def test_a_document_is_made_only_where_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pdf of text (no form, and every page over a stamp's text: none is rendered to look
    for a scan) never makes pypdfium2's object."""
    made: list[object] = []
    real = pypdfium2.PdfDocument

    def _spy(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pdf_module.pypdfium2, "PdfDocument", _spy)
    line = "a line of text long enough (over forty characters) to be no stamp"
    units, findings, _ = _verdict(make_pdf([["CHAN Tai Man 2891 1001", line], [line]]))
    assert findings == []
    assert [text for _, text in units if "CHAN" in text]
    assert made == []
