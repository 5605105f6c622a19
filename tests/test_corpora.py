"""Every message of the public corpora (tests/corpora) parsed and extracted without an
exception, and every hostile office file and damaged pdf read or reported uninspectable."""

from __future__ import annotations

import time
from collections import Counter
from email.message import Message
from pathlib import Path

import pytest
from tests.factories import make_eml

from postwarden.engine.extract import extract
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

CORPORA = Path(__file__).resolve().parent / "corpora"
DOCUMENTS = ("poi-hostile-office", "qpdf-bad-pdfs")
# Counted once by hand from the corpora's SOURCE.txt files; a change here means files were
# added or lost, which must be noticed rather than skipped.
MESSAGES = 506
DOCUMENT_FILES = {"poi-hostile-office": 46, "qpdf-bad-pdfs": 77}
LIMITS = Limits()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "files").rglob("*") if p.is_file() and p.name != "COPYING")


def _message_files() -> list[Path]:
    folders = sorted(p for p in CORPORA.iterdir() if p.is_dir() and p.name not in DOCUMENTS)
    return [f for folder in folders for f in _files(folder)]


def _has_content(message: Message) -> bool:
    for part in message.walk():
        payload = part.get_payload()
        if isinstance(payload, str) and payload.strip():
            return True
    return False


def test_corpora_message_count() -> None:
    assert len(_message_files()) == MESSAGES


@pytest.mark.slow
def test_corpora_every_message_parses_and_extracts() -> None:
    files = _message_files()
    read = 0
    silent = []
    for path in files:
        raw = path.read_bytes()
        message = parse_message(raw, None, LIMITS)
        extraction = extract(message, LIMITS, time.monotonic() + LIMITS.max_seconds)
        read += 1
        if not (extraction.units or extraction.findings or extraction.attachments):
            if _has_content(message.mime):
                silent.append(path.name)
    assert read == MESSAGES
    assert silent == []


def _as_attachment(path: Path) -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="document",
        body="attached",
        attachments=[(path.name, path.read_bytes(), "application/octet-stream")],
    )


@pytest.mark.parametrize("folder", DOCUMENTS)
def test_corpora_documents_are_read_or_uninspectable(folder: str) -> None:
    files = _files(CORPORA / folder)
    assert len(files) == DOCUMENT_FILES[folder]
    outcomes: Counter[str] = Counter()
    for path in files:
        extraction = extract(parse_message(_as_attachment(path), None, LIMITS), LIMITS, 1e12)
        where = f"attachment:{path.name}"
        read = [u for u in extraction.units if u.source.startswith(where)]
        found = [f.detail for f in extraction.findings if f.source.startswith(where)]
        assert [a.name for a in extraction.attachments] == [path.name]
        outcomes["uninspectable" if found else "read" if read else "no text"] += 1
        if "protected" in path.name or "password" in path.name:
            assert found == ["encrypted office document"], path.name
        if path.name in ("ExternalEntityInText.docx", "54764.xlsx", "54764-2.xlsx"):
            assert found, path.name
            assert found[0].startswith("XML with a DTD"), (path.name, found)
        if path.name.startswith("poc-xmlbomb"):
            assert found, path.name
            assert found[0].startswith("zip bomb"), (path.name, found)
    assert sum(outcomes.values()) == DOCUMENT_FILES[folder]
    # Office files never end with nothing said; a pdf may be images only (noted as defect).
    if folder == "poi-hostile-office":
        assert outcomes["no text"] == 0, outcomes
