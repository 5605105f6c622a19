"""The name a scanned file is inspected under (`scan.file_name`) is ``Path(path).name``, for
every path made of plain, dotted and empty segments."""

from __future__ import annotations

import itertools
from pathlib import Path

from postwarden.scan import file_name


def test_file_name_is_the_path_name() -> None:
    segments = ["a", ".", "..", "", "b.txt", " ", "x.y.", "\\\\"]
    compared = 0
    for count in range(1, 5):
        for combination in itertools.product(segments, repeat=count):
            for lead in ("", "/", "//", "./"):
                path = lead + "/".join(combination)
                if path:
                    assert file_name(path) == Path(path).name, path
                    compared += 1
    assert compared > 15_000
