"""The registers of an installation, opened once per process and matched per message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from postwarden.engine.registers.digest import Digester
from postwarden.engine.registers.index import (
    RegisterError,
    RegisterIndex,
    current_generation,
    list_registers,
)
from postwarden.engine.registers.match import RegisterMatch, match
from postwarden.engine.registers.normalise import Field, email
from postwarden.i18n import _
from postwarden.model import Finding, TextUnit

REFRESH_SECONDS = 1.0
"""How often a long-running process looks for re-imported or dropped registers."""


class RegisterSet:
    """Memory-mapped registers plus the digester of the installation secret.

    With ``names`` only those registers are used (``incident scope --register``), and a
    missing one is an error; without, every register in the data dir is, and imports and
    drops made by ``postwarden register`` are picked up within :data:`REFRESH_SECONDS`.
    """

    def __init__(
        self, registers_dir: Path, secret: bytes, names: Iterable[str] | None = None
    ) -> None:
        self.registers_dir = registers_dir
        self.digester = Digester(secret)
        self._names = tuple(names) if names is not None else None
        self._lock = threading.Lock()
        self._indexes: dict[str, RegisterIndex] = {}
        self._checked = 0.0
        self._load()

    def _wanted(self) -> list[str]:
        if self._names is not None:
            return list(self._names)
        return [info.name for info in list_registers(self.registers_dir)]

    def _load(self) -> None:
        indexes: dict[str, RegisterIndex] = {}
        for name in self._wanted():
            old = self._indexes.get(name)
            if old is not None and current_generation(self.registers_dir, name) == old.generation():
                indexes[name] = old
                continue
            try:
                indexes[name] = RegisterIndex.open(self.registers_dir, name, self.digester.key_id)
            except RegisterError:
                if self._names is not None:
                    raise
        self._indexes = indexes  # one assignment: readers see the old or the new dict
        self._checked = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Re-open registers that were re-imported, forget dropped ones, add new ones."""
        if not force and time.monotonic() - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            self._load()

    @property
    def names(self) -> list[str]:
        return sorted(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, name: str) -> RegisterIndex:
        try:
            return self._indexes[name]
        except KeyError:
            raise RegisterError(_("no register named {name!r}").format(name=name)) from None

    def match(self, units: Sequence[TextUnit], findings: Sequence[Finding]) -> RegisterMatch:
        """Register subjects present in a message's text units, given its detector findings."""
        self.refresh()
        return match(list(self._indexes.values()), units, findings, self.digester)

    def email_registers(self) -> frozenset[str]:
        """Registers that hold an email field (the engine's ``SubjectDirectory``)."""
        return frozenset(n for n, i in self._indexes.items() if i.info.fields.get("email"))

    def hash_email(self, address: str) -> int | None:
        """The keyed hash a register stores for ``address``, or ``None`` if it is no address."""
        norm = email(address)
        return None if norm is None else self.digester.one(Field.EMAIL, norm)

    def records_with_email(self, name: str, addresses: Iterable[str]) -> set[int]:
        """Records of register ``name`` whose email is one of ``addresses``."""
        index = self.get(name)
        hashes = [h for a in addresses if (h := self.hash_email(a)) is not None]
        if not hashes or not len(index.hashes):
            return set()
        wanted = np.array(hashes, dtype=np.uint64)
        lo = np.searchsorted(index.hashes, wanted, side="left")
        hi = np.searchsorted(index.hashes, wanted, side="right")
        out: set[int] = set()
        for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
            out.update(np.asarray(index.records[a:b]).tolist())
        return out
