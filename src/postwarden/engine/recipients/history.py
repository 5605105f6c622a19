"""What the recipients stage needs to know about past mail and exemptions, as Protocols.

The store satisfies them (``store/history.py``, ``store/exemptions.py``) with compact
in-memory views, so the engine never touches the database on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class ContactHistory(Protocol):
    """Who the organisation has written to: addresses, their domains and display names."""

    @property
    def generation(self) -> int:
        """Changes whenever ``known_domains`` changes, so derived caches know to rebuild."""
        ...

    def seen(self, address: str) -> int:
        """Messages sent to ``address`` (lowercase) so far; 0 when never written to."""
        ...

    def known_domains(self) -> Mapping[str, int]:
        """Registrable domain → messages sent to any address in it."""
        ...

    def addresses_at(self, domain: str) -> Iterable[str]:
        """Known addresses whose domain part is exactly ``domain``."""
        ...

    def domains_of_local(self, local: str) -> Iterable[str]:
        """Domains at which the local part ``local`` is a known address."""
        ...

    def addresses_named(self, name_key: str) -> Iterable[str]:
        """Known addresses that carried the display name with this key (see ``name_key``)."""
        ...

    def names_of(self, address: str) -> Iterable[str]:
        """Display names seen for ``address``."""
        ...


class ExemptionBook(Protocol):
    """Active exemptions: a sender may write to a recipient domain for a recorded reason."""

    def exempt(self, sender: str, domain: str) -> bool:
        """Whether ``sender`` holds an active exemption covering ``domain`` (or a parent)."""
        ...


class NoHistory:
    """An organisation that has never sent mail: everyone is first-time."""

    generation = 0

    def seen(self, address: str) -> int:
        return 0

    def known_domains(self) -> Mapping[str, int]:
        return {}

    def addresses_at(self, domain: str) -> Iterable[str]:
        return ()

    def domains_of_local(self, local: str) -> Iterable[str]:
        return ()

    def addresses_named(self, name_key: str) -> Iterable[str]:
        return ()

    def names_of(self, address: str) -> Iterable[str]:
        return ()


class NoExemptions:
    """No exemption granted."""

    def exempt(self, sender: str, domain: str) -> bool:
        return False
