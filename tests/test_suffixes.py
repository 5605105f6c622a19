"""The Public Suffix List as the engine reads it: a host cut at its public suffix the way
tldextract cut it before (wildcards, exceptions, IP addresses, URL-like and Unicode forms),
from the bundled list and without the network."""

from __future__ import annotations

import pytest

from postwarden.suffixes import HostParts, public_suffixes, split_host


@pytest.mark.parametrize(
    ("host", "domain", "suffix"),
    [
        ("mail.reo.gov.hk", "reo", "gov.hk"),
        ("Mail.Example.CO.UK", "Example", "CO.UK"),  # labels as written
        ("com", "", "com"),  # a suffix alone
        ("localhost", "localhost", ""),  # no known suffix: the last label
        ("a.b.internal-name", "internal-name", ""),
        # *.kobe.jp with the exception !city.kobe.jp: the wildcard's root itself is a
        # label under its listed parent, as tldextract had it (the list's own algorithm
        # would call kobe.jp a suffix)
        ("kobe.jp", "kobe", "jp"),
        ("x.kobe.jp", "", "x.kobe.jp"),
        ("a.x.kobe.jp", "a", "x.kobe.jp"),
        ("city.kobe.jp", "city", "kobe.jp"),
        ("a.city.kobe.jp", "city", "kobe.jp"),
        ("ck", "ck", ""),
        ("a.ck", "", "a.ck"),
        ("www.ck", "www", "ck"),
        # IP addresses are all domain
        ("1.2.3.4", "1.2.3.4", ""),
        ("01.2.3.4", "4", ""),
        ("[::1]", "[::1]", ""),
        # read as a URL: scheme, user, port, path and trailing dots dropped
        ("https://u@a.example.com:8080/p?q", "example", "com"),
        ("example.com.", "example", "com"),
        ("a\u3002example\uff0ecom", "example", "com"),  # ideographic full stops
        # Unicode and punycode labels both match an internationalised suffix
        ("a.\u4e2d\u56fd", "a", "\u4e2d\u56fd"),
        ("a.xn--fiqs8s", "a", "xn--fiqs8s"),
        ("a..example.com", "example", "com"),
        ("", "", ""),
    ],
)
def test_split_host_cuts_at_the_public_suffix(host: str, domain: str, suffix: str) -> None:
    assert split_host(host) == HostParts(domain, suffix)


@pytest.mark.usefixtures("no_network")
def test_the_list_loads_from_the_package_without_the_network() -> None:
    public_suffixes.cache_clear()
    assert split_host("news.example.co.uk") == HostParts("example", "co.uk")
    assert public_suffixes() is public_suffixes()
