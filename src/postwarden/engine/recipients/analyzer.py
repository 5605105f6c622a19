"""Each recipient's class (internal, partner, webmail, external) and flags."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

from postwarden.engine.recipients.domains import DomainName, domain_name, domain_of
from postwarden.engine.recipients.history import (
    ContactHistory,
    ExemptionBook,
    NoExemptions,
    NoHistory,
)
from postwarden.engine.recipients.lookalike import LookalikeFinder
from postwarden.engine.recipients.names import ROLE_LOCALS, handles, local_core, name_key, resembles
from postwarden.engine.recipients.webmail import Providers, providers
from postwarden.model import RecipientClass, RecipientFlag, RecipientInfo

LOOKALIKE = RecipientFlag.LOOKALIKE
FIRST_TIME = RecipientFlag.FIRST_TIME
NEAR_KNOWN = RecipientFlag.NEAR_KNOWN
SELF_FORWARD = RecipientFlag.SELF_FORWARD
EXEMPT = RecipientFlag.EXEMPT
MAILING_LIST = RecipientFlag.MAILING_LIST

_DOMAINS_KEPT = 16384

EMITTED_FLAGS = frozenset({LOOKALIKE, FIRST_TIME, NEAR_KNOWN, SELF_FORWARD, EXEMPT, MAILING_LIST})
"""Every flag this stage sets (the engine adds ``registered-correspondent``)."""


class RecipientAnalyzer:
    """Classifies addresses and flags the risky ones; holds no per-message state."""

    def __init__(
        self,
        org_domains: Iterable[str],
        partner_domains: Iterable[str] = (),
        *,
        history: ContactHistory | None = None,
        exemptions: ExemptionBook | None = None,
        webmail: Providers | None = None,
        frequent_min: int = 3,
    ) -> None:
        self.org_domains = tuple(d.lower() for d in org_domains)
        self.partner_domains = tuple(d.lower() for d in partner_domains)
        self.history: ContactHistory = history if history is not None else NoHistory()
        self.exemptions: ExemptionBook = exemptions if exemptions is not None else NoExemptions()
        self.webmail = webmail if webmail is not None else providers()
        self.frequent_min = frequent_min
        self._finder_key: tuple[int, frozenset[str]] | None = None
        self._finder = LookalikeFinder(())
        # A domain's class and list-host status depend only on the domain lists above, which
        # are fixed: worked out once per domain (a dozen suffix and provider look-ups).
        self._kind_of = functools.lru_cache(maxsize=_DOMAINS_KEPT)(self._kind)

    def classify(self, address: str) -> RecipientClass:
        """The class of one address by its domain alone."""
        return self._kind_of(domain_name(domain_of(address)))[0]

    def _kind(self, name: DomainName) -> tuple[RecipientClass, bool]:
        """The class of domain ``name``, and whether it is a webmail provider's list host."""
        if any(name.within(d) for d in self.org_domains):
            return RecipientClass.INTERNAL, False
        if any(name.within(d) for d in self.partner_domains):
            return RecipientClass.PARTNER, False
        # A list or group host under a webmail provider is not a personal mailbox.
        if self.webmail.is_list_host(name):
            return RecipientClass.EXTERNAL, True
        if self.webmail.owner(name) is not None:
            return RecipientClass.WEBMAIL, False
        return RecipientClass.EXTERNAL, False

    def analyze(
        self,
        sender: str,
        recipients: Iterable[str],
        *,
        display_names: Mapping[str, str] | None = None,
        sender_name: str = "",
    ) -> list[RecipientInfo]:
        """Class and flags of each envelope recipient.

        ``display_names`` maps lowercase addresses to the names the To/Cc headers gave them;
        ``sender_name`` is the From header's display name.
        """
        names = display_names or {}
        sender = sender.strip().lower()
        sender_domain = domain_name(domain_of(sender)).registrable if "@" in sender else ""
        own: frozenset[str] | None = None
        out = []
        for raw in recipients:
            address = raw.strip().lower()
            domain = domain_of(address)
            name = domain_name(domain)
            cls, list_host = self._kind_of(name)
            flags: list[str] = []
            detail: list[str] = []
            if list_host:
                flags.append(MAILING_LIST)
                detail.append(f"{MAILING_LIST}: a list or group host of a webmail provider")
            if cls is not RecipientClass.INTERNAL:
                if self.exemptions.exempt(sender, name.host):
                    flags.append(EXEMPT)
                    detail.append(f"{EXEMPT}: the sender holds an exemption for {name.host}")
                # The sender's own domain is never a lookalike (of its organisation or at all).
                if cls is RecipientClass.EXTERNAL and name.registrable != sender_domain:
                    found = self._lookalike_finder().match(domain)
                    if found is not None:
                        flags.append(LOOKALIKE)
                        detail.append(f"{LOOKALIKE}: {found.describe()}")
                if self.history.seen(address) == 0:
                    flags.append(FIRST_TIME)
                    near = self._near_known(address, names.get(address, ""))
                    if near:
                        flags.append(NEAR_KNOWN)
                        detail.append(f"{NEAR_KNOWN}: {near}")
                if cls is RecipientClass.WEBMAIL:
                    if own is None:
                        own = self._own_handles(sender, sender_name)
                    handle = resembles(address.rpartition("@")[0], own)
                    if handle:
                        flags.append(SELF_FORWARD)
                        detail.append(f"{SELF_FORWARD}: resembles the sender's own name")
            out.append(
                RecipientInfo(address=address, cls=cls, flags=tuple(flags), detail=tuple(detail))
            )
        return out

    def _lookalike_finder(self) -> LookalikeFinder:
        """The finder for the current trusted set, rebuilt only when that set changes."""
        generation = self.history.generation
        if self._finder_key is not None and self._finder_key[0] == generation:
            return self._finder
        frequent = frozenset(
            d for d, n in self.history.known_domains().items() if n >= self.frequent_min
        )
        if self._finder_key is None or self._finder_key[1] != frequent:
            # Only domains the organisation uses are imitated (design.md, rule 4); a
            # provider it writes to often is used under all its domains (one owner).
            trusted = {*self.partner_domains, *frequent}
            for domain in frequent:
                family = self.webmail.owner(domain_name(domain))
                if family is not None:
                    trusted |= self.webmail.members(family)
            self._finder = LookalikeFinder(trusted, owner=self.webmail.owner, own=self.org_domains)
        self._finder_key = (generation, frequent)
        return self._finder

    def _near_known(self, address: str, display: str) -> str | None:
        """How a first-time address is one slip from a known contact, or None."""
        local, _, domain = address.rpartition("@")
        known_here = [a.rpartition("@")[0] for a in self.history.addresses_at(domain)]
        if known_here and len(local) >= 3:
            hit = process.extractOne(local, known_here, scorer=OSA.distance, score_cutoff=1)
            if hit is not None:
                return f"one character away from {hit[0]}@{domain}"
        if len(local_core(local)) >= 4 and local not in ROLE_LOCALS:
            others = sorted(d for d in self.history.domains_of_local(local) if d != domain)
            if others:
                return f"same mailbox name as {local}@{others[0]}"
        key = name_key(display)
        if key:
            others = sorted(a for a in self.history.addresses_named(key) if a != address)
            if others:
                return f"{display!r} is known as {others[0]}"
        return None

    def _own_handles(self, sender: str, sender_name: str) -> frozenset[str]:
        local = sender.rpartition("@")[0]
        names = [sender_name, *self.history.names_of(sender)]
        out: set[str] = set()
        for display in names:
            out |= handles(display, local)
        return frozenset(out)
