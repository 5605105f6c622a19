"""`extract._content_type` (kept per suffix) gives what ``mimetypes.guess_type`` gives for
every name, asked first or again: suffixes known and unknown, in any case, compound ones
(``.tar.gz``, ``.tgz``), encodings, URL schemes, hidden files and no suffix."""

from __future__ import annotations

import mimetypes

import pytest

from postwarden.engine.extract import _content_type

_NAMES = [
    *("a.docx", "b.DOCX", "c.Docx", "d.pdf", "e.txt", "f.TXT", "g.xlsx", "h.csv", "i.eml"),
    *("j.tar.gz", "k.tgz", "l.TGZ", "m.svgz", "n.gz", "o.GZ", "p.txt.gz", "q.tar.bz2", "r.xz"),
    *("s.Z", "t.z", "u.br", "v.tar", "w.unknownsuffix", "x", ".bashrc", "..", "y.", "z..txt"),
    *("data:text/html,<b>x</b>", "data:,x", "http://h/a.pdf", "a:b.docx", "dir/a.pdf"),
    *("a.b.c.pdf", "A.PDF", "a.tar.GZ", "a.Tar.gz", "name with spaces.docx", "\u6587\u4ef6.docx"),
]


@pytest.mark.parametrize("rounds", [1, 2])
def test_every_name_gets_what_guess_type_gives(rounds: int) -> None:
    for _ in range(rounds):
        for name in _NAMES:
            expected = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
            assert _content_type(name) == expected, name
