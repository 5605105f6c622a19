"""`office.pulled` yields what ``iterparse`` yields for the same bytes, event by event, and
raises the same error after the same events: on every XML part of made and hostile office
files, parts made larger than one 16 KiB step, and their truncated and damaged copies."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import ParseError, iterparse

from tests.engine.extract.test_hidden_parts import _generated, _xml_parts
from tests.factories import make_docx

from postwarden.engine.extract.office import pulled


def _trace(events: Iterator[tuple[Any, ...]]) -> list[object]:
    out: list[object] = []
    try:
        for event, element in events:
            out.append((event, element.tag, dict(element.attrib), element.text, element.tail))
    except ParseError as exc:
        out.append(("error", str(exc), exc.position))
    except Exception as exc:  # a damaged declaration: LookupError for an unknown encoding
        out.append(("error", type(exc).__name__, str(exc)))
    return out


def _copies(xml: bytes, rng: random.Random) -> Iterator[bytes]:
    yield xml
    for fraction in (0.1, 0.5, 0.9):
        yield xml[: int(len(xml) * fraction)]
    for _ in range(3):
        if xml:
            copy = bytearray(xml)
            copy[rng.randrange(len(copy))] ^= rng.randrange(1, 256)
            yield bytes(copy)


def test_pulled_events_are_iterparse_events() -> None:
    rng = random.Random(17)
    with zipfile.ZipFile(
        io.BytesIO(make_docx([f"CHAN Tai Man {n} & co" for n in range(900)]))
    ) as big:
        body = big.read("word/document.xml")
    parts = [*_xml_parts(), *(_generated(rng) for _ in range(200)), b"", b"<a>", body]
    parts.append(b"<w><p>" + b"<r>A123456(3) &amp; 2891 1001</r>" * 3000 + b"</p></w>")
    assert len(body) > 3 * 16 * 1024
    compared = errors = 0
    for xml in parts:
        for copy in _copies(xml, rng):
            expected = _trace(iterparse(io.BytesIO(copy), ("start", "end")))  # noqa: S314
            assert _trace(pulled(copy)) == expected, copy[:200]
            compared += 1
            errors += expected[-1][0] == "error" if expected else 0  # type: ignore[index]
    assert compared > 1500
    assert errors > 300
