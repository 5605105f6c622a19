"""Keyed 64-bit hashes of normalised register values."""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from postwarden.engine.registers import native
from postwarden.engine.registers.normalise import Field

Hashes = npt.NDArray[np.uint64]


class Digester:
    """Keyed BLAKE2b (RFC 7693 keyed mode, a MAC like HMAC but one pass) truncated to 64 bits.

    The key is derived from the installation secret for registers only, so these hashes
    say nothing about other uses of the secret; the field type is hashed in with the value,
    so a phone number never equals an id or a date of another field.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the installation secret is shorter than 16 bytes")
        self._key = hashlib.blake2b(secret, digest_size=32, person=b"pw-registers").digest()
        self._states: dict[Field, hashlib.blake2b] = {}

    @property
    def key_id(self) -> str:
        """A fingerprint of the key, stored with an index so a changed secret is noticed."""
        return hashlib.blake2b(self._key, digest_size=8, person=b"pw-key-id").hexdigest()

    def many(self, field: Field, values: Sequence[str]) -> Hashes:
        """Hashes of ``values`` (already normalised for ``field``), in order."""
        if native.keyed_hashes is not None:
            return _array(native.keyed_hashes(self._key, bytes((field,)) * len(values), values))
        return _digests(itertools.repeat(self._keyed(field).copy), values)

    def mixed(self, fields: Sequence[int], values: Sequence[str]) -> Hashes:
        """Hashes of ``values``, each normalised for its field in ``fields``, in order (one
        pass: a message's few values of several fields cost no grouping by field)."""
        if native.keyed_hashes is not None:
            # BLAKE2b itself in C: 0.1 us a value, where hashlib's objects cost 0.6 us.
            return _array(native.keyed_hashes(self._key, bytes(fields), values))
        copies = {f: self._keyed(Field(f)).copy for f in set(fields)}
        return _digests(map(copies.__getitem__, fields), values)

    def keys(self, texts: Sequence[str]) -> tuple[Hashes, bytes]:
        """Hashes of register keys as ``match.Collector`` numbers them (a field's number as a
        character, then the normal form), in order, and each key's field as a byte: what
        :meth:`mixed` gives for those fields and normal forms.  Compiled, the text's UTF-8
        is the hashed message (the field's byte, then the value's), and no key is cut in
        two; a text that does not start with an ASCII field number is refused."""
        if native.key_hashes is not None:
            hashes, fields = native.key_hashes(self._key, texts)
            return _array(hashes), fields
        for text in texts:  # as the compiled key_hashes refuses them
            if not isinstance(text, str):
                raise TypeError("texts must be str")
            if not text or not text[0].isascii():
                raise ValueError("key_hashes: a key starts with its field's byte")
        fields = bytes(map(ord, map(operator.itemgetter(0), texts)))
        return self.mixed(fields, list(map(operator.itemgetter(slice(1, None)), texts))), fields

    def one(self, field: Field, value: str) -> int:
        h = self._keyed(field).copy()
        h.update(value.encode())
        return int.from_bytes(h.digest(), "little")

    def _keyed(self, field: Field) -> hashlib.blake2b:
        """The keyed state with the field type hashed in, ready for a value."""
        state = self._states.get(field)
        if state is None:
            state = self._states[field] = hashlib.blake2b(
                bytes((field,)), key=self._key, digest_size=8
            )
        return state


def _digests(copies: Iterable[Callable[[], hashlib.blake2b]], values: Iterable[str]) -> Hashes:
    """The digests of ``values``, each hashed into a fresh copy of a keyed state (a copy
    saves hashing the key block again for every value)."""
    digests = []
    for copy, v in zip(copies, values, strict=False):
        h = copy()
        h.update(v.encode())
        digests.append(h.digest())
    return _array(b"".join(digests))


def _array(digests: bytes) -> Hashes:
    """8-byte little-endian digests back to back as hashes."""
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64, copy=False)


def id_hashes(ids: Sequence[str]) -> Hashes:
    """Unkeyed 64-bit hashes of record ids, only to find duplicate ids without a big set."""
    blake2b = hashlib.blake2b
    joined = b"".join([blake2b(i.encode(), digest_size=8).digest() for i in ids])
    return np.frombuffer(joined, dtype="<u8").astype(np.uint64, copy=False)
