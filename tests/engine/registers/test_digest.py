"""Keyed hashes: the compiled BLAKE2b and hashlib's give the same hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from postwarden.engine.compiled import _hsscan
from postwarden.engine.registers import digest as digest_module
from postwarden.engine.registers import native
from postwarden.engine.registers.digest import Digester
from postwarden.engine.registers.normalise import Field

compiled = pytest.mark.skipif(
    native.keyed_hashes is None, reason="the compiled keyed_hashes is not built"
)
# Values of every length around the 128-byte blocks (with the field's byte in front),
# Chinese and astral characters, empty.
_VALUES = st.one_of(
    st.text(max_size=300),
    st.integers(0, 300).map(lambda n: "x" * n),
    st.text("陳大文\U00020000a", max_size=90),
)


def _hashlib(key: bytes, fld: int, value: str) -> int:
    digest = hashlib.blake2b(bytes((fld,)) + value.encode(), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "little")


@compiled
@given(
    st.binary(min_size=16, max_size=64),
    st.lists(st.tuples(st.sampled_from(list(Field)), _VALUES.filter(str.isprintable))),
)
def test_compiled_hashes_equal_hashlib(secret: bytes, pairs: list[tuple[Field, str]]) -> None:
    digester = Digester(secret)
    fields = [int(f) for f, _ in pairs]
    values = [v for _, v in pairs]
    got = digester.mixed(fields, values).tolist()
    assert got == [_hashlib(digester._key, f, v) for f, v in pairs]
    assert got == [digester.one(f, v) for f, v in pairs]
    for fld in set(fields):
        some = [v for f, v in pairs if f == fld]
        assert digester.many(Field(fld), some).tolist() == [digester.one(fld, v) for v in some]


@given(st.lists(st.tuples(st.sampled_from(list(Field)), _VALUES.filter(str.isprintable))))
def test_hashlib_fallback_gives_the_same_hashes(pairs: list[tuple[Field, str]]) -> None:
    digester = Digester(b"s" * 32)
    fields = [int(f) for f, _ in pairs]
    values = [v for _, v in pairs]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "keyed_hashes", None)
        fallback = digester.mixed(fields, values)
        assert digester.many(Field.NAME_EN, values).tolist() == [
            digester.one(Field.NAME_EN, v) for v in values
        ]
    assert fallback.dtype == np.uint64
    assert fallback.tolist() == [digester.one(Field(f), v) for f, v in pairs]
    assert digester.mixed(fields, values).tolist() == fallback.tolist()


@compiled
def test_compiled_hashes_refuse_what_hashlib_refuses() -> None:
    digester = Digester(b"s" * 32)
    with pytest.raises(UnicodeEncodeError):
        digester.mixed([1], ["\ud800"])
    with pytest.raises(ValueError, match="one field byte"):
        digest_module.native.keyed_hashes(b"k" * 32, b"\x01\x01", ["a"])  # type: ignore[misc]
    with pytest.raises(TypeError):
        digester.mixed([1], [b"a"])  # type: ignore[list-item]


@given(
    st.binary(min_size=16, max_size=64),
    st.lists(st.tuples(st.sampled_from(list(Field)), _VALUES.filter(str.isprintable))),
)
def test_key_hashes_are_the_hashes_of_field_and_value(
    secret: bytes, pairs: list[tuple[Field, str]]
) -> None:
    """`Digester.keys` of ``chr(field) + value`` texts (compiled where built, and without
    the extension) hashes as hashlib does each field's byte then the value, and gives the
    fields back as bytes."""
    digester = Digester(secret)
    texts = [chr(f) + v for f, v in pairs]
    want = [_hashlib(digester._key, f, v) for f, v in pairs]
    fields = bytes(int(f) for f, _ in pairs)
    for built in (native.key_hashes, None):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(native, "key_hashes", built)
            hashes, got_fields = digester.keys(texts)
        assert hashes.dtype == np.uint64
        assert (hashes.tolist(), got_fields) == (want, fields)


@pytest.mark.parametrize("built", [True, False])
def test_key_hashes_refuse_texts_that_are_no_keys(built: bool) -> None:
    digester = Digester(b"s" * 32)
    with pytest.MonkeyPatch.context() as patch:
        if not built:
            patch.setattr(native, "key_hashes", None)
        for texts in ([""], ["\x01a", "陳a"]):
            with pytest.raises(ValueError, match="starts with its field"):
                digester.keys(texts)
        with pytest.raises(UnicodeEncodeError):
            digester.keys(["\x01\ud800"])
        with pytest.raises(TypeError):
            digester.keys([b"\x01a"])  # type: ignore[list-item]


@pytest.fixture(params=["built", "scalar", "avx2", "avx512", "python"])
def hashing(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Whether the compiled hashes are used, each of their vector finals in turn (the CPU
    picks one per process: the others, and the one-at-a-time path, are named here to be
    tested on any machine that offers them), or hashlib without the extension."""
    if request.param == "python":
        yield False
        return
    if native.keyed_hashes is None:
        pytest.skip("the compiled keyed_hashes is not built")
    if request.param == "built":
        yield True
        return
    try:
        assert _hsscan.hash_lanes(request.param) == request.param
    except ValueError:
        pytest.skip(f"this CPU offers no {request.param}")
    try:
        yield True
    finally:
        _hsscan.hash_lanes(None)


def test_hashes_of_one_block_and_longer_messages_mixed_in_one_call(hashing: bool) -> None:
    # The compiled hashes digest the messages of one block (field byte and value up to 128
    # bytes) several at a time, in the lanes of the CPU's vector registers, and longer ones
    # one by one: every length from empty to three blocks, ASCII and not, interleaved, in
    # runs that leave the lanes part-filled at the end, must each give hashlib's hash.
    built = hashing
    digester = Digester(b"lanes" * 8)
    values = [("ab" if n % 3 else "陳") * (n // 2) + "x" * (n % 2) for n in range(300)]
    values += [v[:127] for v in reversed(values)]
    fields = [int(Field.NAME_EN) if n % 2 else int(Field.ADDRESS_ZH) for n in range(len(values))]
    want = [_hashlib(digester._key, f, v) for f, v in zip(fields, values, strict=True)]
    with pytest.MonkeyPatch.context() as patch:
        if not built:
            patch.setattr(native, "keyed_hashes", None)
            patch.setattr(native, "key_hashes", None)
        for stop in (1, 3, 5, 130, len(values)):
            assert digester.mixed(fields[:stop], values[:stop]).tolist() == want[:stop]
            texts = [chr(f) + v for f, v in zip(fields[:stop], values[:stop], strict=True)]
            assert digester.keys(texts)[0].tolist() == want[:stop]
