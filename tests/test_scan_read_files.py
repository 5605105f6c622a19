"""The scan reader's batch read (`_hsscan.read_files`) against reading each file in Python
(`Scanner._read_one`, ``Path.read_bytes``): the same bytes, the same errors (type, errno,
message, file name), and a file over the limit left to Python."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postwarden.scan import READ_IN_C, ScanItem, Scanner, read_files
from postwarden.settings import Limits

pytestmark = pytest.mark.skipif(read_files is None, reason="extension not built")


def _same(c: bytes | OSError | None, python: bytes | OSError) -> None:
    if isinstance(python, OSError):
        assert isinstance(c, OSError)
        assert type(c) is type(python)
        assert (c.errno, c.strerror, c.filename) == (python.errno, python.strerror, python.filename)
        assert str(c) == str(python)
    else:
        assert c == python


def _tree(tmp_path: Path) -> list[str]:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "one").write_bytes(b"x")
    (tmp_path / "some.docx").write_bytes(os.urandom(37_000))
    (tmp_path / "big.pdf").write_bytes(os.urandom(300_000))
    (tmp_path / "folder").mkdir()
    (tmp_path / "nul\u00e9 name \udcff").write_bytes(b"name that is not UTF-8")
    (tmp_path / "link").symlink_to(tmp_path / "one")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    names = ["empty", "one", "some.docx", "big.pdf", "folder", "missing", "link", "dangling"]
    paths = [str(tmp_path / name) for name in names]
    return [*paths, str(tmp_path / "nul\u00e9 name \udcff"), str(tmp_path / "one" / "below")]


def test_a_batch_reads_as_python_reads_each_file(tmp_path: Path) -> None:
    assert read_files is not None
    paths = _tree(tmp_path)
    scanner = Scanner(Limits(), None)
    found = read_files(paths, READ_IN_C)
    assert len(found) == len(paths)
    for path, data in zip(paths, found, strict=True):
        _same(data, scanner._read_one(ScanItem(path, path, 0.0, 0)))
    assert read_files([], READ_IN_C) == []


def test_a_file_over_the_limit_is_none_and_read_in_python(tmp_path: Path) -> None:
    assert read_files is not None
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_files([str(path)], 10) == [b"0123456789"]
    assert read_files([str(path)], 9) == [None]
    assert read_files([str(path)], 0) == [None]
    items = [ScanItem(str(path), str(path), 0.0, 10)]
    assert Scanner(Limits(), None)._read_all(items) == [b"0123456789"]


def test_an_unreadable_file_gives_its_error(tmp_path: Path) -> None:
    assert read_files is not None
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: every file is readable")
        (found,) = read_files([str(path)], READ_IN_C)
        _same(found, Scanner(Limits(), None)._read_one(ScanItem(str(path), str(path), 0.0, 1)))
    finally:
        path.chmod(0o600)


def test_a_path_that_cannot_be_encoded_raises_as_open_does() -> None:
    assert read_files is not None
    with pytest.raises(ValueError, match="embedded null byte"):
        read_files(["a\0b"], READ_IN_C)
    with pytest.raises(ValueError, match="embedded null byte"):
        Path("a\0b").read_bytes()
    with pytest.raises(TypeError):
        read_files([b"bytes"], READ_IN_C)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="limit out of range"):
        read_files([], -1)
