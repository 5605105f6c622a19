"""Mail on disk: which file is a message, which folder a maildir, which file an mbox.

The engine (a leaked or scanned file), the discovery scan and the sent-mail history import
all tell mail from documents here, the same way.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "MAILDIR_SUBDIRS",
    "is_maildir",
    "is_mbox",
    "is_message_file",
    "maildir_files",
    "mbox_preamble",
    "open_mbox",
]

MAILDIR_SUBDIRS = ("cur", "new")
"""The maildir folders that hold messages (``tmp`` holds deliveries in progress)."""


def is_message_file(name: str) -> bool:
    """Whether a file of this name is a whole message (``.eml``) rather than a document."""
    return name.lower().endswith(".eml")


def is_maildir(path: Path) -> bool:
    """A folder with ``cur``, ``new`` and ``tmp``, as every maildir writer makes it: a folder
    of documents that merely holds one called ``new`` is not a maildir (its other files would
    go unread)."""
    return all((path / d).is_dir() for d in (*MAILDIR_SUBDIRS, "tmp"))


def is_mbox(path: Path) -> bool:
    """An ``.mbox`` file, or a file that starts with an mbox ``From`` line."""
    if path.suffix.lower() == ".mbox":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def mbox_preamble(path: Path) -> bool:
    """True when the mbox has bytes before its first ``From`` line: :mod:`mailbox` skips them
    (all of a ``.mbox`` file that has no ``From`` line at all)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return bool(head) and head != b"From "


def maildir_files(path: Path) -> Iterator[Path]:
    """The message files of a maildir: ``cur`` then ``new``, each in name order."""
    for sub in MAILDIR_SUBDIRS:
        for entry in sorted((path / sub).iterdir()):
            if entry.is_file():
                yield entry


@contextmanager
def open_mbox(path: Path | str) -> Iterator[mailbox.mbox]:
    """An existing mbox, read as bytes (no message factory), closed afterwards."""
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        yield box
    finally:
        box.close()
