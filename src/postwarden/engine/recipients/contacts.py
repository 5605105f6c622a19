"""An in-memory index of past correspondence that answers ``ContactHistory`` in microseconds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from postwarden.engine.recipients.domains import domain_name
from postwarden.engine.recipients.names import name_key


class ContactIndex:
    """Messages sent per address and display names seen, indexed for the recipient checks.

    Built from the store's rows at start-up and updated in place with the rows that changed
    since (``set_count`` / ``add_name`` take totals, so replaying a row is harmless).
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._domain_counts: dict[str, int] = {}
        self._by_domain: dict[str, set[str]] = {}
        self._by_local: dict[str, set[str]] = {}
        self._names: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self.generation = 0
        """Bumped whenever ``known_domains`` changes, so derived caches know to rebuild."""

    @classmethod
    def build(
        cls, counts: Iterable[tuple[str, int]], names: Iterable[tuple[str, str]] = ()
    ) -> ContactIndex:
        index = cls()
        for address, count in counts:
            index.set_count(address, count)
        for address, display in names:
            index.add_name(address, display)
        return index

    def set_count(self, address: str, count: int) -> None:
        """Record that ``count`` messages in all have gone to ``address``."""
        address = address.strip().lower()
        local, _, domain = address.rpartition("@")
        if not local or not domain:
            return
        previous = self._counts.get(address, 0)
        if count == previous:
            return
        self._counts[address] = count
        registrable = domain_name(domain).registrable
        self._domain_counts[registrable] = self._domain_counts.get(registrable, 0) + (
            count - previous
        )
        self._by_domain.setdefault(domain, set()).add(address)
        self._by_local.setdefault(local, set()).add(domain)
        self.generation += 1

    def add_name(self, address: str, display_name: str) -> None:
        """Record that ``address`` was written to (or from) under ``display_name``."""
        display = " ".join(display_name.split())
        key = name_key(display)
        if not display:
            return
        address = address.strip().lower()
        self._names.setdefault(address, set()).add(display)
        if key:
            self._by_name.setdefault(key, set()).add(address)

    def __len__(self) -> int:
        return len(self._counts)

    def seen(self, address: str) -> int:
        return self._counts.get(address.lower(), 0)

    def known_domains(self) -> Mapping[str, int]:
        return self._domain_counts

    def addresses_at(self, domain: str) -> Iterable[str]:
        return self._by_domain.get(domain.lower(), ())

    def domains_of_local(self, local: str) -> Iterable[str]:
        return self._by_local.get(local.lower(), ())

    def addresses_named(self, name_key: str) -> Iterable[str]:
        return self._by_name.get(name_key, ())

    def names_of(self, address: str) -> Iterable[str]:
        return self._names.get(address.lower(), ())
