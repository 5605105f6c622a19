"""Domains that imitate a trusted one: homoglyphs, typos, moved dots and hyphens, extra
labels and swapped top-level domains."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from postwarden.engine.recipients.confusables import skeleton
from postwarden.engine.recipients.domains import DomainName, domain_name

# Labels that read as "just another ending" after an imitated name: reo.gov.com, reo.com.hk.
_SUFFIX_LABELS = frozenset("com net org co gov edu info biz io app hk cn mo tw sg uk us eu".split())


@dataclass(frozen=True, slots=True)
class Lookalike:
    """Which trusted domain a recipient domain imitates, and how."""

    target: str
    how: str

    def describe(self) -> str:
        return f"imitates {self.target} ({self.how})"


@dataclass(frozen=True, slots=True)
class _Ref:
    name: DomainName
    skel: str
    flat: str
    own: bool
    """One of the organisation's own domains."""


def _flat(host: str) -> str:
    return host.replace(".", "").replace("-", "")


def _generic(suffix: str) -> bool:
    """An open generic top-level domain (com, net, org, info), not a country's."""
    return "." not in suffix and len(suffix) > 2


def _no_owner(name: DomainName) -> str | None:
    return None


class LookalikeFinder:
    """Compares a domain against the trusted ones (org, partner, frequent contacts).

    ``owner`` names the known owner of a domain (a webmail provider's family): a domain of
    a known owner is that owner's, and imitates nobody.  ``own`` are the organisation's own
    domains: the same name under another open generic TLD (python.org for python.net) is
    taken as the organisation's too, not an imitation; under a restricted or country suffix
    (reo.gov.hk → reo.gov.com, reo.com.hk) it still is.
    """

    def __init__(
        self,
        trusted: Iterable[str],
        *,
        owner: Callable[[DomainName], str | None] = _no_owner,
        own: Iterable[str] = (),
    ) -> None:
        own_hosts = {domain_name(h).host for h in own}
        refs = []
        for host in sorted(set(trusted) | own_hosts):
            name = domain_name(host)
            refs.append(
                _Ref(
                    name=name,
                    skel=skeleton(name.host),
                    flat=_flat(name.host),
                    own=name.host in own_hosts,
                )
            )
        self._refs = tuple(refs)
        self._owner = owner
        self._cache: dict[str, Lookalike | None] = {}

    def match(self, host: str) -> Lookalike | None:
        """The trusted domain ``host`` imitates, or None (a subdomain is not an imitation,
        nor is a domain of a known owner)."""
        if host in self._cache:
            return self._cache[host]
        name = domain_name(host)
        found = None
        if self._owner(name) is None and not any(name.within(ref.name.host) for ref in self._refs):
            found = self._first_match(name)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[host] = found
        return found

    def _first_match(self, name: DomainName) -> Lookalike | None:
        skel = skeleton(name.host)
        flat = _flat(name.host)
        dotted = f".{name.host}."
        for ref in self._refs:
            how = _compare(name, skel, flat, dotted, ref)
            if how:
                return Lookalike(target=ref.name.host, how=how)
        return None


def _compare(name: DomainName, skel: str, flat: str, dotted: str, ref: _Ref) -> str | None:
    target = ref.name
    if skel == ref.skel or skeleton(name.registrable) == skeleton(target.registrable):
        return "punycode homoglyph" if name.punycode else "homoglyph"
    if flat == ref.flat or _flat(name.registrable) == _flat(target.registrable):
        return "dots or hyphens moved"
    if f".{target.host}." in dotted:
        return "extra labels"
    # The organisation's own name under another open gTLD is its own (see LookalikeFinder).
    sibling = ref.own and _generic(name.suffix) and _generic(target.suffix)
    if len(target.label) >= 3 and not sibling:
        if name.label == target.label and name.suffix != target.suffix:
            return "top-level domain swapped"
        stem, _, rest = name.host.partition(".")
        if stem == target.label and rest and set(rest.split(".")) <= _SUFFIX_LABELS:
            return "top-level domain swapped"
    label_len = len(target.label)
    if name.suffix == target.suffix and label_len >= 4:
        allowed = 2 if label_len >= 9 else 1
        if OSA.distance(name.label, target.label, score_cutoff=allowed) <= allowed:
            return "misspelt"
    if len(ref.flat) >= 6 and OSA.distance(flat, ref.flat, score_cutoff=1) <= 1:
        return "misspelt"
    return None
