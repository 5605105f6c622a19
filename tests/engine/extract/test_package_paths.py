"""A relationship's target becomes a part name by hand when it is plain
(`office.part_name`): the same name ``posixpath`` gives, for every combination of plain and
awkward segments (``.``, ``..``, empty, dotted names, non-ASCII, a leading slash) from plain
and awkward source folders."""

from __future__ import annotations

import itertools
import posixpath

from postwarden.engine.extract.office import _PLAIN_PATH, part_name

_SEGMENTS = ["a", "B", ".", "..", "", ".rels", "..x", "x..", "É", " ", "a.b", "\\", "\n"]
_FOLDERS = ["", "word", "xl/worksheets", "a/..", "./a", "a//b", "a/", "/a", "..", ".", "x/.y"]


def _general(folder: str, target: str) -> str:
    path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
    return posixpath.normpath(path).lower()


def test_plain_targets_are_named_as_posixpath_names_them() -> None:
    compared = by_hand = 0
    for folder in _FOLDERS:
        plain_folder = not folder or _PLAIN_PATH.fullmatch(folder) is not None
        for count in range(1, 4):
            for segments in itertools.product(_SEGMENTS, repeat=count):
                for lead in ("", "/", "//"):
                    target = lead + "/".join(segments)
                    if not target:
                        continue
                    assert part_name(folder, target, plain_folder) == _general(folder, target), (
                        folder,
                        target,
                    )
                    compared += 1
                    by_hand += (
                        plain_folder and _PLAIN_PATH.fullmatch(target.lstrip("/")) is not None
                    )
    assert compared > 70_000
    assert by_hand > 10_000  # the hand-joined path was taken, and agreed
