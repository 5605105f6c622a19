"""The compiled pattern database is kept on disk: a second build loads it (fast) and finds
exactly what a fresh compile finds; a damaged file is ignored and written again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from postwarden.engine.detect import DetectorSet, registry, scanner
from postwarden.engine.detect.patterncache import MAGIC, user_cache_dir
from postwarden.model import TextUnit

SRC = Path(__file__).resolve().parents[3] / "src"

UNITS = [
    TextUnit("Tel: 9123 4567, e-mail tai.man@example.com", "body"),
    TextUnit("姓名：陳大文，電話 6123 4567，身份證 A123456(3)", "attachment:a.docx"),
    TextUnit(
        "陳小明\tCHAN Siu Ming\t9876 5432",
        "attachment:c.xlsx#Sheet1!R2",
        ("陳小明", "CHAN Siu Ming", "9876 5432"),
    ),
    TextUnit("Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T.", "body#2"),
]


def _built(cache_dir: Path | None) -> tuple[DetectorSet, float]:
    start = time.process_time()
    detectors = registry.build(cache_dir=cache_dir)
    return detectors, time.process_time() - start


def _found(detectors: DetectorSet) -> list[tuple[str, str, int, int, str]]:
    return sorted((f.where, f.detector, f.start, f.end, f.value) for f in detectors.scan(UNITS))


def test_a_second_build_loads_the_cache_and_finds_the_same(tmp_path: Path) -> None:
    fresh, compile_cpu = _built(None)
    first, _ = _built(tmp_path)
    (cached,) = tmp_path.glob("patterns-*.hsdb")
    assert cached.read_bytes().startswith(MAGIC)
    assert cached.stat().st_mode & 0o777 == 0o600
    second, load_cpu = _built(tmp_path)
    assert load_cpu < compile_cpu / 3, (load_cpu, compile_cpu)
    expected = _found(fresh)
    assert {f[1] for f in expected} >= {"phone", "email", "hkid", "name_zh", "name_en"}
    assert _found(first) == expected
    assert _found(second) == expected


def test_a_damaged_cache_file_is_compiled_again(tmp_path: Path) -> None:
    expected = _found(registry.build())
    registry.build(cache_dir=tmp_path)
    (cached,) = tmp_path.glob("patterns-*.hsdb")
    good = cached.read_bytes()
    for damaged in (good[: len(good) // 2], good[:-64] + b"\xff" * 64, b"", MAGIC + b"x" * 99):
        cached.write_bytes(damaged)
        assert _found(registry.build(cache_dir=tmp_path)) == expected
        assert cached.read_bytes() == good, "rewritten whole"


def test_an_unwritable_cache_dir_still_compiles(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert _found(registry.build(cache_dir=blocked / "cache")) == _found(registry.build())


def test_the_cache_name_is_the_same_in_every_process() -> None:
    """Patterns made from sets must not depend on hash randomisation, or every process
    would miss the cache."""
    code = (
        "from postwarden.engine.detect import registry\n"
        "from pathlib import Path\n"
        "import tempfile\n"
        "d = Path(tempfile.mkdtemp())\n"
        "registry.build(cache_dir=d)\n"
        "print(next(d.glob('patterns-*')).name)"
    )
    names = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(names) == 1, names


def test_the_user_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/srv/cache")
    assert user_cache_dir() == Path("/srv/cache/postwarden")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    assert user_cache_dir() == Path.home() / ".cache" / "postwarden"


@pytest.mark.skipif(not scanner.NATIVE, reason="the compiled extension keeps the limits")
def test_a_loaded_cache_brings_its_window_limits_without_reading_the_expressions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The windowed expressions and their byte limits are stored with the databases: a
    process that loads the cache gets the ones a compile works out, without working them
    out again (a tenth of a fresh ``check``)."""
    compiled = registry.build(cache_dir=tmp_path)
    made = compiled.flags
    read: list[str] = []
    original = scanner.open_ended_limits

    def spy(regex: str, flags: int) -> bytes | None:
        read.append(regex)
        return original(regex, flags)

    monkeypatch.setattr(scanner, "open_ended_limits", spy)
    loaded = registry.build(cache_dir=tmp_path)
    assert read == []
    assert loaded.flags == made
    assert any(f & scanner.SOM == 0 for f in made)  # some expressions are windowed
    assert _found(loaded) == _found(compiled) == _found(registry.build())


@pytest.mark.skipif(not scanner.NATIVE, reason="the compiled extension keeps the limits")
def test_a_cache_whose_window_head_is_damaged_is_compiled_again(tmp_path: Path) -> None:
    registry.build(cache_dir=tmp_path)
    (cached,) = tmp_path.glob("patterns-*.hsdb")
    good = cached.read_bytes()
    backend = scanner._NativeBackend([scanner.SOM] * 3)
    head = len(MAGIC) + 32
    for blob in (b"\x01" + b"\x00" * 7, (2**40).to_bytes(8, "little"), good[head:][:100]):
        with pytest.raises(ValueError, match="not a postwarden pattern database"):
            backend.load(blob)
    windowed = (0).to_bytes(8, "little")  # expression 0 given without SOM cannot be windowed
    with pytest.raises(ValueError, match="no SOM"):
        scanner._NativeBackend([0]).load((1).to_bytes(8, "little") + windowed + bytes(256))
