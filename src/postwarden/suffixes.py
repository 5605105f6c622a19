"""The Public Suffix List, one copy per process, shared by the detectors (is an address's
domain real?) and the recipients' analysis (which organisation is it?).

It is the snapshot bundled with ``publicsuffixlist`` (ICANN section only): the package reads
its own file and never fetches (its updater is a separate command), so a gateway never
reaches the internet.  It is parsed once, the first time a host is split (~15 ms).
tldextract, used before, cost ~90 ms of every command-line check: it imports ``requests``.

``split_host`` reads a host as tldextract did, so the verdicts stay the same: the name is
cut out of a URL-like string (scheme, user, port and path dropped), ideographic full stops
count as dots, ``xn--`` labels match the list in their Unicode form, and an IP address is
all domain and no suffix.  publicsuffixlist only answers "which suffix", so that reading is
written here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv6Address
from urllib.parse import scheme_chars

from publicsuffixlist import PublicSuffixList

__all__ = ["HostParts", "decode_label", "public_suffixes", "split_host"]

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_SCHEME_CHARS = frozenset(scheme_chars)


@dataclass(frozen=True, slots=True)
class HostParts:
    """A host cut at its public suffix, labels as written."""

    domain: str
    """The label just left of the suffix (empty when the host is a suffix itself); the last
    label when no suffix is known, the whole address for an IP address."""
    suffix: str
    """The public suffix; empty when none is known."""


@functools.cache
def public_suffixes() -> PublicSuffixList:
    """The process's one parsed list (ICANN suffixes; an unknown TLD is no suffix)."""
    return PublicSuffixList(only_icann=True, accept_unknown=False, accept_encoded_idn=False)


def decode_label(label: str) -> str:
    """A host label in its Unicode form: ``xn--`` labels decoded (when they are valid
    punycode, else as written)."""
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except UnicodeError:
            pass
    return label


def split_host(text: str) -> HostParts:
    """``text`` (a host, or a URL-like string naming one) cut at its public suffix."""
    host = _host_of(text).translate(_DOTS)
    if len(host) >= 4 and host[0] == "[" and host[-1] == "]" and _is_ip(host[1:-1], IPv6Address):
        return HostParts(host, "")
    labels = host.split(".")
    # The suffix is matched over the labels after the last empty one (a name with an empty
    # label has no suffix before it).
    tail = labels[len(labels) - labels[::-1].index("") :] if "" in labels else labels
    size = _suffix_size([decode_label(label.lower()) for label in tail])
    if not size:
        if len(labels) == 4 and _is_ip(host, IPv4Address):
            return HostParts(host, "")
        return HostParts(labels[-1], "")
    domain = labels[-size - 1] if len(labels) > size else ""
    return HostParts(domain, ".".join(labels[-size:]))


def _suffix_size(labels: list[str]) -> int:
    """How many of ``labels`` (lowercase, Unicode) the public suffix spans; 0 for none.

    The list's algorithm takes a name covered by a wildcard (``kobe.jp`` under
    ``*.kobe.jp``) for a public suffix too; tldextract took only listed names, so such a
    name is a label under its listed parent (``kobe`` under ``jp``), as before."""
    suffixes = public_suffixes()
    listed = suffixes._publicsuffix  # the listed names (the package has no accessor)
    while labels:
        found = suffixes.publicsuffix(".".join(labels))
        if found is None:
            return 0
        size = found.count(".") + 1
        if size < len(labels) or found in listed or f"*.{found}" not in listed:
            return size
        labels = labels[1:]
    return 0


def _host_of(text: str) -> str:
    """The host in a URL-like string, case kept: after any ``scheme://`` and ``user@``,
    before any path, query, fragment or port; trailing dots dropped (tldextract's reading)."""
    scheme_end = text.find("//")
    if scheme_end == 0:
        text = text[2:]
    elif (
        scheme_end >= 2
        and text[scheme_end - 1] == ":"
        and set(text[: scheme_end - 1]) <= _SCHEME_CHARS
    ):
        text = text[scheme_end + 2 :]
    authority = text.partition("/")[0].partition("?")[0].partition("#")[0]
    after_user = authority.rpartition("@")[2]
    if after_user[:1] == "[":
        inside, bracket, _rest = after_user.partition("]")
        if bracket:
            return f"{inside}]"
    return after_user.partition(":")[0].strip().rstrip(".\u3002\uff0e\uff61")


def _is_ip(text: str, kind: type[IPv4Address | IPv6Address]) -> bool:
    try:
        kind(text)
    except AddressValueError:
        return False
    return True
