"""Letters' mail-merge CSV: clear register values reach the spreadsheet as text."""

from __future__ import annotations

import pytest

from postwarden.incidents.letters import csv_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # OWASP "CSV Injection": a cell a spreadsheet would run as a formula is quoted.
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+85291234567", "'+85291234567"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        # Everything else is left exactly as the register has it.
        ("CHAN Tai Man", "CHAN Tai Man"),
        ("陳大文", "陳大文"),
        ("Flat A, 1 Nathan Road", "Flat A, 1 Nathan Road"),
        ("a=b", "a=b"),
        ("V-0000002", "V-0000002"),
        ("", ""),
    ],
)
def test_csv_cell_neutralises_formulas(value: str, expected: str) -> None:
    assert csv_cell(value) == expected
