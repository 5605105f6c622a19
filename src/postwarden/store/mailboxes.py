"""Who is who among mail addresses, for four eyes: one person behind many address strings.

``alice+x@ORG``, ``Alice@org``, ``alice@ORG.`` and the IDN forms of a domain are one mailbox;
so are the addresses an aliases(5) file maps to it.  The releaser of a held message must share
no mailbox with any of its senders: the envelope sender and the header ``From`` and ``Sender``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings

__all__ = ["MAX_ALIAS_DEPTH", "AliasError", "Mailboxes", "message_senders", "read_aliases"]

log = logging.getLogger(__name__)

MAX_ALIAS_DEPTH = 10
"""Aliases are followed this many levels deep (Postfix's own limit for local(8) is 100, but
an organisation's role addresses nest two or three deep; a loop ends here, not forever)."""
_MAX_EXPANSION = 10_000


class AliasError(PostwardenError):
    """The configured aliases file cannot be read."""


def _domain(domain: str) -> str:
    """Lower case, no trailing dot, IDNA (punycode) form: ``例子.香港`` equals ``xn--…``."""
    d = domain.strip().rstrip(".").lower()
    try:
        return d.encode("idna").decode("ascii")
    except UnicodeError:
        return d


def _addr_spec(address: str) -> str:
    a = address.strip()
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1].strip()
    return a


class Mailboxes:
    """Compares addresses as mailboxes of the organisation's mail system."""

    def __init__(
        self,
        org_domains: Iterable[str] = (),
        *,
        separators: str = "+",
        aliases: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.org_domains = frozenset(_domain(d) for d in org_domains)
        self.separators = separators
        self.aliases: dict[str, tuple[str, ...]] = {}
        for name, targets in (aliases or {}).items():
            key = self._alias_key(name)
            self.aliases[key] = self.aliases.get(key, ()) + tuple(targets)

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailboxes:
        """The organisation's domains, separators and (re-read now) aliases file."""
        path = settings.access.aliases_file
        aliases = read_aliases(Path(path)) if path else {}
        return cls(
            settings.org_domains,
            separators=settings.access.subaddress_separators,
            aliases=aliases,
        )

    def ours(self, domain: str) -> bool:
        """An organisation domain (or a subdomain of one); every domain when none is set, so
        that a bare install compares on the safe side."""
        if not self.org_domains:
            return True
        return any(domain == d or domain.endswith("." + d) for d in self.org_domains)

    def canonical(self, address: str) -> str:
        """The mailbox ``address`` names: domain case and IDN form folded; for our domains
        also the local part's case and any sub-address (``alice+tag`` is ``alice``)."""
        spec = _addr_spec(address)
        local, at, domain = spec.rpartition("@")
        if not at:
            return spec.lower()  # a bare local name, as in an aliases file
        if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
            local = local[1:-1]
        domain = _domain(domain)
        if self.ours(domain):
            local = local.lower()
            cut = min((i for i, ch in enumerate(local) if ch in self.separators), default=-1)
            if cut > 0:  # "+tag@org" alone is not cut down to "@org"
                local = local[:cut]
        return f"{local}@{domain}"

    def _alias_key(self, name: str) -> str:
        return self.canonical(name) if "@" in name else name.strip().lower()

    def _targets(self, mailbox: str) -> tuple[str, ...]:
        local, _, domain = mailbox.rpartition("@")
        found = self.aliases.get(mailbox, ())
        if domain and self.ours(domain):
            # A bare alias name (``team:`` in /etc/aliases) stands for it in every org domain;
            # a bare target stays in the alias's domain.
            found += self.aliases.get(local, ())
        return tuple(
            self.canonical(t if "@" in t or not domain else f"{t}@{domain}") for t in found
        )

    def expand(self, address: str) -> set[str]:
        """``address``'s mailbox plus every mailbox its aliases lead to (transitively, at most
        :data:`MAX_ALIAS_DEPTH` levels)."""
        seen = {self.canonical(address)}
        frontier = set(seen)
        for _depth in range(MAX_ALIAS_DEPTH):
            nxt = {t for m in frontier for t in self._targets(m)} - seen
            if not nxt or len(seen) > _MAX_EXPANSION:
                break
            seen |= nxt
            frontier = nxt
        return seen

    def shared(self, person: str, senders: Iterable[str]) -> str | None:
        """The first of ``senders`` that is ``person`` (a mailbox in common), else None."""
        mine = self.expand(person)
        for sender in senders:
            if sender.strip() and mine & self.expand(sender):
                return sender
        return None


def read_aliases(path: Path) -> dict[str, list[str]]:
    """An aliases(5) file: ``name: target, target``, ``#`` comments, continuation lines that
    start with white space.  Commands (``|…``), files (``/…``) and ``:include:`` are no one's
    mailbox and are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AliasError(
            _("cannot read the aliases file {path}: {exc}").format(path=path, exc=exc)
        ) from None
    entries: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t" and entries:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line.strip())
    out: dict[str, list[str]] = {}
    for entry in entries:
        name, colon, rest = entry.partition(":")
        if not colon or not name.strip():
            log.warning("aliases file %s: line without 'name:' skipped", path)
            continue
        targets = [
            t.strip().strip('"')
            for t in rest.split(",")
            if t.strip() and not t.strip().startswith(("|", "/", ":include:", '"|'))
        ]
        out.setdefault(name.strip().strip('"'), []).extend(targets)
    return out


def message_senders(envelope_sender: str, raw: bytes) -> list[str]:
    """The envelope sender, then every address in the header ``From`` and ``Sender``.

    Read leniently (compat32: no header is ever decoded, so a malformed one cannot raise);
    an address that cannot be parsed out is skipped.
    """
    found = [envelope_sender] if envelope_sender.strip() else []
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    values = [str(v) for name in ("from", "sender") for v in headers.get_all(name) or []]
    for _name, addr in getaddresses(values):
        if "@" in addr and addr not in found:
            found.append(addr)
    return found
