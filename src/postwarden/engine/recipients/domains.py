"""Domain names split into registrable domain and public suffix, offline."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from postwarden.suffixes import decode_label, split_host


@dataclass(frozen=True, slots=True)
class DomainName:
    """A host name in its Unicode form with its public suffix and registrable label."""

    host: str
    """Lowercase, Unicode (punycode decoded), no trailing dot."""
    label: str
    """The label just left of the public suffix: ``reo`` in ``mail.reo.gov.hk``."""
    suffix: str
    """The public suffix: ``gov.hk``; empty for a bare name."""
    punycode: bool
    """Whether the host was written with ``xn--`` labels."""

    @property
    def registrable(self) -> str:
        return f"{self.label}.{self.suffix}" if self.suffix else self.label

    def within(self, domain: str) -> bool:
        """Whether this host is ``domain`` or one of its subdomains."""
        return self.host == domain or self.host.endswith("." + domain)


@lru_cache(maxsize=65536)
def domain_name(host: str) -> DomainName:
    """Parse ``host`` (an address's domain part, any case, punycode or Unicode)."""
    lowered = host.strip().lower().rstrip(".")
    unicode_host = ".".join(map(decode_label, lowered.split(".")))
    parts = split_host(unicode_host)
    label = parts.domain or parts.suffix
    suffix = parts.suffix if parts.domain else ""
    return DomainName(host=unicode_host, label=label, suffix=suffix, punycode="xn--" in lowered)


def domain_of(address: str) -> str:
    """The domain part of an address, lowercase; empty when there is none."""
    _, at, domain = address.rpartition("@")
    return domain.strip().lower().rstrip(".>") if at else ""
