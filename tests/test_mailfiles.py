"""Mail on disk is recognised in one place, the same way for the scan, the history import and
the engine."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

from postwarden.mailfiles import is_maildir, is_mbox, is_message_file, maildir_files, open_mbox

SRC = Path(__file__).resolve().parents[1] / "src" / "postwarden"


def test_a_maildir_has_cur_new_and_tmp(tmp_path: Path) -> None:
    md = mailbox.Maildir(tmp_path / "md", create=True)
    md.add(b"Subject: one\n\nx\n")
    assert is_maildir(tmp_path / "md")
    docs = tmp_path / "docs"
    (docs / "new").mkdir(parents=True)
    (docs / "cur").mkdir()
    assert not is_maildir(docs)  # a share folder with "new" and "cur" holds documents


def test_maildir_files_are_cur_then_new_in_name_order(tmp_path: Path) -> None:
    root = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for name in ("new/b", "new/a", "cur/z", "tmp/half"):
        (root / name).write_bytes(b"x")
    assert [p.relative_to(root).as_posix() for p in maildir_files(root)] == [
        "cur/z",
        "new/a",
        "new/b",
    ]


def test_mbox_by_name_or_from_line(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "sent", create=True)
    box.add(b"Subject: one\n\nx\n")
    box.add(b"Subject: two\n\ny\n")
    box.close()
    (tmp_path / "empty.MBOX").write_bytes(b"")
    (tmp_path / "sheet.csv").write_bytes(b"From,To\n")
    assert is_mbox(tmp_path / "sent")
    assert is_mbox(tmp_path / "empty.MBOX")
    assert not is_mbox(tmp_path / "sheet.csv")
    assert not is_mbox(tmp_path / "missing")
    with open_mbox(tmp_path / "sent") as opened:
        assert [b"Subject: one" in opened.get_bytes(k) for k in opened.keys()] == [True, False]


def test_message_files_by_name() -> None:
    assert is_message_file("leak.eml")
    assert is_message_file("LEAK.EML")
    assert not is_message_file("leak.eml.pdf")


def test_no_other_module_recognises_mail_on_disk_itself() -> None:
    """The rules are restated nowhere else: maildir folders, mbox files and .eml names."""
    pattern = re.compile(
        r'mailbox\.(mbox|Maildir)\(|/ "(cur|new)"|_MAILDIR|== "\.eml"|endswith\("\.eml"\)'
        r'|rglob\("\*\.eml"\)'
    )
    offenders = [
        f"{path.relative_to(SRC)}: {m.group(0)}"
        for path in SRC.rglob("*.py")
        if path.name != "mailfiles.py"
        for m in pattern.finditer(path.read_text())
    ]
    assert offenders == []
