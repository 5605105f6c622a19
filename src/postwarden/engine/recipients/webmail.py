"""The shipped list of personal webmail providers (``webmail.txt``), one domain family per
line, and the list and group hosts under them (``lists.txt``)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

from rapidfuzz.distance import OSA

from postwarden.engine.recipients.domains import DomainName, domain_name

_WILDCARD = ".*"
# A brand under a bare ccTLD one edit from .com or .net is a typo trap (gmail.co, yahoo.cm),
# not a country variant: a wildcard family never covers it, so it stays a lookalike.
_SLIP_ROOTS = ("com", "net")


def _entries(text: str) -> list[list[str]]:
    """The lines of a list file as lists of lowercase entries; ``#`` comments dropped."""
    out = []
    for line in text.splitlines():
        words = [w.lower().rstrip(".") for w in line.split("#", 1)[0].split()]
        if words:
            out.append(words)
    return out


def parse_domain_list(text: str) -> frozenset[str]:
    """The concrete domains of a list file (wildcards such as ``yahoo.*`` left out)."""
    return frozenset(w for words in _entries(text) for w in words if not w.endswith("*"))


def _is_slip(suffix: str) -> bool:
    return "." not in suffix and any(OSA.distance(suffix, r) <= 1 for r in _SLIP_ROOTS)


class Providers:
    """Webmail domain families and the list hosts under them.

    A family is one owner: ``owner()`` names it (its first entry) for any of its domains,
    subdomains and, for ``NAME.*`` entries, NAME under any public suffix.
    """

    def __init__(
        self,
        families: Iterable[Iterable[str]],
        list_labels: Iterable[str] = (),
        list_domains: Iterable[str] = (),
    ) -> None:
        self._owner: dict[str, str] = {}
        self._brands: dict[str, str] = {}
        members: dict[str, set[str]] = {}
        for family in families:
            entries = [e.lower() for e in family]
            if not entries:
                continue
            key = entries[0].removesuffix(_WILDCARD)
            for entry in entries:
                if entry.endswith(_WILDCARD):
                    self._brands[entry.removesuffix(_WILDCARD)] = key
                else:
                    self._owner[entry] = key
                    members.setdefault(key, set()).add(entry)
        self._members = {k: frozenset(v) for k, v in members.items()}
        self.list_labels = frozenset(list_labels)
        self.list_domains = frozenset(list_domains)

    @classmethod
    def parse(cls, webmail_text: str, lists_text: str = "") -> Providers:
        labels: list[str] = []
        domains: list[str] = []
        for words in _entries(lists_text):
            for w in words:
                (domains if "." in w else labels).append(w)
        # _entries strips the trailing dot of a label line, so a label has no dot left.
        return cls(_entries(webmail_text), labels, domains)

    @property
    def domains(self) -> frozenset[str]:
        """Every concrete domain of every family (what the blocklist export lists)."""
        return frozenset(self._owner)

    def owner(self, name: DomainName) -> str | None:
        """The family that owns ``name`` (its host, a parent of it, or its brand), or None."""
        host = name.host
        while host:
            if host in self._owner:
                return self._owner[host]
            _, _, host = host.partition(".")
        brand = self._brands.get(name.label)
        if brand is not None and name.suffix and not _is_slip(name.suffix):
            return brand
        return None

    def members(self, owner: str) -> frozenset[str]:
        """The concrete domains of family ``owner``."""
        return self._members.get(owner, frozenset())

    def is_list_host(self, name: DomainName) -> bool:
        """A mailing-list or group host: ``groups.msn.com``, ``x.googlegroups.com``."""
        if any(name.within(d) for d in self.list_domains):
            return True
        if name.host == name.registrable:
            return False
        first, _, rest = name.host.partition(".")
        return first in self.list_labels and self.owner(domain_name(rest)) is not None


def _read(resource: str) -> str:
    return resources.files(__package__).joinpath(resource).read_text(encoding="utf-8")


@cache
def providers() -> Providers:
    """The shipped families of ``webmail.txt`` and list hosts of ``lists.txt``."""
    return Providers.parse(_read("webmail.txt"), _read("lists.txt"))


@cache
def webmail_domains() -> frozenset[str]:
    """The concrete webmail domains of ``webmail.txt``; the one source for classification
    and exports."""
    return parse_domain_list(_read("webmail.txt"))
