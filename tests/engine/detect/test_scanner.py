"""The compiled scan (`_hsscan`) and python-hyperscan give the same matches and findings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.engine.detect.test_detectors import CASES

from postwarden.engine.detect import DetectorSet, default_detectors
from postwarden.engine.detect.matchbytes import reversed_expression
from postwarden.engine.detect.scanner import NATIVE
from postwarden.model import TextUnit

REALTEXT = Path(__file__).resolve().parents[2] / "data" / "realtext"
LIBHS_HEADERS = Path("/usr/include/hs/hs.h")


def _units() -> list[TextUnit]:
    units = [TextUnit(text=text, where=f"case{i}") for i, (_, text, _) in enumerate(CASES)]
    for path in sorted(REALTEXT.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        units.append(TextUnit(text=text, where=path.name))
        units.extend(
            TextUnit(text=line, where=f"{path.name}#{n}")
            for n, line in enumerate(text.splitlines())
        )
    cells = ("陳大文", "CHAN Tai Man", "Flat A, 12/F, Block 3, Tai Po, N.T.", "9123 4567")
    units.append(TextUnit(text="\t".join(cells), where="x.xlsx#R2", cells=cells))
    return units


def _same_raw_hits(native: DetectorSet, python: DetectorSet, blob: bytes) -> int:
    """Assert both bindings' raw hits of ``blob`` (bytes and characters) are the same;
    how many there are."""
    native_hits = native._raw_hits(blob)
    np.testing.assert_array_equal(_sorted(native_hits), _sorted(python._raw_hits(blob)))
    np.testing.assert_array_equal(
        _sorted(native._raw_hits(blob, chars=True)),
        _sorted(python._raw_hits(blob, chars=True)),
    )
    return len(native_hits)


def _sorted(hits: np.ndarray) -> np.ndarray:
    """(start, end, id) rows by end, start and id."""
    return hits[np.lexsort((hits[:, 2], hits[:, 0], hits[:, 1]))]


def _sets() -> tuple[DetectorSet, DetectorSet]:
    detectors = default_detectors().detectors
    return DetectorSet(detectors, native=True), DetectorSet(detectors, native=False)


def test_the_extension_is_built_where_libhs_is_installed() -> None:
    if not LIBHS_HEADERS.exists():
        pytest.skip("no libhyperscan-dev: the install builds no extension")
    assert NATIVE, "libhs is installed but postwarden.engine.compiled._hsscan was not built"
    assert default_detectors().native


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_both_bindings_find_the_same() -> None:
    native, python = _sets()
    assert native.native
    assert not python.native
    units = _units()
    assert len(units) > 1000
    blob = "\n\x00\n".join(u.text for u in units).encode("utf-8", "replace")
    native_hits, python_hits = native._raw_hits(blob), python._raw_hits(blob)
    assert len(native_hits) > 2_000
    # The same rows; matches ending at one offset may come in another order (the compiled
    # scan finds open-ended expressions' starts after hyperscan's pass).
    np.testing.assert_array_equal(_sorted(native_hits), _sorted(python_hits))
    in_chars = native._raw_hits(blob, chars=True)
    np.testing.assert_array_equal(_sorted(in_chars), _sorted(python._raw_hits(blob, chars=True)))
    assert (in_chars[:, :2] < native_hits[:, :2]).any()  # the text is not all ASCII
    found = native.scan(units)
    assert {f.detector for f in found} >= {"phone", "hkid", "name_zh", "name_en", "address_zh"}
    assert found == python.scan(units)
    assert native.scan([]) == python.scan([]) == []
    assert native._raw_hits(b"").shape == python._raw_hits(b"").shape == (0, 3)


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_scans_from_several_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    native, _ = _sets()
    units = _units()
    expected = native.scan(units)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: native.scan(units), range(8)))
    assert all(r == expected for r in results)


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_starts_found_after_the_scan_are_hyperscans() -> None:
    """Texts packed with the open-ended expressions' parts (titles, dates, mail addresses,
    labelled Chinese names, sign-offs, street names) and with what ends their windows
    (multi-byte characters, NUL, line ends): every start is the one SOM reports, and the
    offsets in characters are those numpy counts."""
    import random

    native, python = _sets()
    assert native.flags != python.flags  # some starts are found after the scan
    pieces = (
        "Mr ", "Dr.  ", "CHAN ", "Tai ", "Man", "x.y", "@", "a@b.com.hk", ".", " ", "  ", "\n",
        "\r\n", "Regards,\n", "Best ", "12 ", "3rd ", "March ", "Mar. ", "2020", "姓名", "：",
        ":", "陳大文", "Name", "'s ", "’s ", "Queen", "Road", "Building", "Kwong ", "9", "-",
        "é", "。", "\t", "\x00",
    )  # fmt: skip
    rng = random.Random(7)
    rows = 0
    for _ in range(200):
        blob = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 300))).encode()
        rows += _same_raw_hits(native, python, blob)
    assert rows > 5_000


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_windows_bounded_by_byte_counts_hold_every_start() -> None:
    """Starts found in windows that stop where a match would hold a byte more often than
    its expression can (a sign-off's second line end, a title's third full stop): letters
    of long lines of prose with closings, titles, initials and punctuation at every
    distance, so that windows slide on from one end to the next and are walked back from
    far ends alike, are the starts SOM reports."""
    import random

    native, python = _sets()
    prose = "please review the attached minutes of the district council meeting ".split()
    cues = (
        "Regards,\n", "Best regards,\n", "Thanks!\n", "Yours sincerely,\r\n", "Cheers\n  ",
        "Mr ", "Dr. ", "Dear ", "MRS. ", "Madam, ", "Prof ",
    )  # fmt: skip
    names = ("CHAN Tai Man", "Lau", "McDonald", "O'Brien", "Kwok-ki", "J. Smith", "WONG, Siu")
    marks = (",", ".", "!", "'", "-", "\n", "\n\n", "  ", "\t", "é", "中")
    rng = random.Random(3)
    rows = 0
    for _ in range(200):
        parts = []
        for _ in range(rng.randrange(1, 120)):
            roll = rng.random()
            if roll < 0.15:
                parts.append(rng.choice(cues) + rng.choice(names))
            elif roll < 0.3:
                parts.append(rng.choice(marks))
            else:
                parts.append(" ".join(rng.choices(prose, k=rng.choice((1, 3, 10, 60)))))
        blob = rng.choice((" ", "", "\n")).join(parts).encode()
        native_hits = native._raw_hits(blob)
        np.testing.assert_array_equal(_sorted(native_hits), _sorted(python._raw_hits(blob)))
        rows += len(native_hits)
    assert rows > 5_000


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_starts_read_backwards_are_hyperscans() -> None:
    """The bounded expressions read backwards from each end (names with a surname of any
    length first, dates, +852 numbers): texts packed with their parts, glued and apart, at
    the buffer's edges and beside multi-byte characters, give the starts SOM reports."""
    import random

    native, python = _sets()
    backwards = {
        p.name
        for p, flag in zip(native._patterns, python.flags, strict=False)
        if reversed_expression(p.regex, flag) is not None
    }
    assert {"upper_first", "english_upper", "title_last", "dmy"} <= backwards
    words = (
        "CHAN", "AUYEUNG", "NG", "CHEUNG", "Chan", "Auyeung", "Ng", "Tai", "Man", "man", "Siu",
        "TAI", "MAN", "Peter", "Mary", "Ka", "Wai", "+852", "00852", "852", "(852)", "9123",
        "4567", "1/2/1999", "31-12-2020", "1999.1.2", "12", "20", "x", "_",
    )  # fmt: skip
    gaps = (" ", " ", " ", ", ", ",", "-", "", ".", "/", "é", "中", "\n", "\x00")
    rng = random.Random(11)
    rows = 0
    for _ in range(500):
        parts = [rng.choice(words) + rng.choice(gaps) for _ in range(rng.randrange(1, 200))]
        blob = "".join(parts).encode()
        rows += _same_raw_hits(native, python, blob)
    assert rows > 5_000


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_joined_utf8_is_pythons() -> None:
    """The extension's join and encoding give Python's bytes for every kind of str: ASCII,
    Latin-1, two-byte (runs of four ASCII characters copied at once), four-byte, and lone
    surrogates replaced by "?"."""
    import random

    from postwarden.engine.compiled import _hsscan

    rng = random.Random(7)
    pools = ("abc xyz.", "é ü ÿ\x80", "中文字，", "\ud800\udfff\udc00", "😀\U0010ffff", "\x7f\x00")
    texts_seen = 0
    for _ in range(3000):
        texts = []
        for _ in range(rng.randrange(0, 5)):
            chars = "".join(rng.sample(pools, rng.randrange(1, 4)))
            texts.append("".join(rng.choice(chars) for _ in range(rng.randrange(0, 30))))
        texts_seen += len(texts)
        for separator in ("\n\x00\n", ""):
            want = separator.join(texts).encode("utf-8", "replace")
            assert _hsscan.join_utf8(texts, separator.encode()) == want
    assert texts_seen > 5000
    with pytest.raises(TypeError):
        _hsscan.join_utf8(["a", b"b"], b"")


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
def test_texts_joined_and_scanned_in_one_call_are_the_fallbacks() -> None:
    """`Scanner.text_hits`: the extension's join-and-scan (into buffers it keeps between
    calls, growing and shrinking here) gives the rows and length of the fallback's join and
    scan, over ASCII, CJK, four-byte characters, lone surrogates and empty texts."""
    import random

    native, python = _sets()
    assert native._scanner is not None
    assert python._scanner is not None
    pieces = (
        "Mr ", "CHAN ", "Tai ", "Man", "a@b.com.hk", " ", "\n", "Regards,\n", "12 ", "March ",
        "2020", "姓名", "：", "陳大文", "先生", "Flat A, 12/F, ", "Tai Po", "9123 4567",
        "\ud800", "😀", "é", "", "Tel: ", "A123456(7)",
    )  # fmt: skip
    rng = random.Random(11)
    rows = 0
    for size in [0, 1, *(rng.choice((5, 50, 500)) for _ in range(300))]:
        texts = [
            "".join(rng.choice(pieces) for _ in range(rng.randrange(0, size + 1)))
            for _ in range(rng.randrange(0, 6))
        ]
        for separator in ("\n\x00\n", ""):
            native_hits, native_length = native._scanner.text_hits(texts, separator)
            python_hits, python_length = python._scanner.text_hits(texts, separator)
            assert (
                native_length
                == python_length
                == len(separator.join(texts).encode("utf-8", "replace"))
            )
            np.testing.assert_array_equal(_sorted(native_hits), _sorted(python_hits))
            rows += len(native_hits)
    assert rows > 2_000
