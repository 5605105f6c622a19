"""The register's clear file, read for one run of letters and never kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from postwarden.engine.registers.table import Reading, map_columns

__all__ = ["clear_rows", "memory_copy"]


def clear_rows(path: Path, reading: Reading) -> Iterator[dict[str, str]]:
    """Each row of a clear register file (csv or xlsx) as field → value, read as
    ``register import`` read the register (``reading``: its mapping, encoding, sheet...)."""
    table = reading.open(path)
    columns = map_columns(table.header, reading.mapping).columns
    for chunk in table.chunks(10_000):
        for row in chunk:
            yield {field: row[i] if i < len(row) else "" for i, field in columns.items()}


@contextmanager
def memory_copy(stream: IO[bytes]) -> Iterator[Path]:
    """``stream`` (an uploaded clear register) as a path the register reader can open, held in
    an anonymous memory file that has no name on any disk and is gone when the block ends.

    ``memfd_create`` is Linux's; Postwarden runs on Debian. The reader wants a path (calamine
    opens workbooks by name), which ``/proc/self/fd`` gives without a file on disk.
    """
    fd = os.memfd_create("postwarden-clear-register", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        yield Path(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
