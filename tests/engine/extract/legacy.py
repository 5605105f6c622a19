"""Word 97-2003 .doc and .rtf files written by LibreOffice at test time (Debian's
libreoffice-writer-nogui), converted from a docx written by python-docx."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import docx
import pytest


def libreoffice(tmp: Path, paragraphs: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """``tmp/doc.docx`` and its conversions ``doc.doc`` and ``doc.rtf``; skips without
    LibreOffice (scripts/bootstrap.sh installs it)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (libreoffice-writer-nogui) is not installed")
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    source = tmp / "doc.docx"
    document.save(str(source))
    for fmt in ("doc", "rtf"):
        subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation=file://{tmp / 'profile'}",
                "--convert-to",
                fmt,
                "--outdir",
                str(tmp),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return tmp
