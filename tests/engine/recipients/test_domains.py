from __future__ import annotations

import pytest

from postwarden.engine.recipients.domains import domain_name, domain_of
from postwarden.suffixes import public_suffixes


@pytest.mark.parametrize(
    ("host", "label", "suffix"),
    [
        ("mail.reo.gov.hk", "reo", "gov.hk"),
        ("REO.GOV.HK.", "reo", "gov.hk"),
        ("x.yahoo.com.hk", "yahoo", "com.hk"),
        ("reo.gov.hk.co", "hk", "co"),
        ("xn--pple-43d.com", "аpple", "com"),
        ("localhost", "localhost", ""),
    ],
)
def test_domain_name_splits_on_the_public_suffix(host: str, label: str, suffix: str) -> None:
    name = domain_name(host)
    assert (name.label, name.suffix) == (label, suffix)


def test_domain_name_decodes_punycode() -> None:
    name = domain_name("xn--pple-43d.com")
    assert name.host == "аpple.com"
    assert name.punycode


@pytest.mark.usefixtures("no_network")
def test_domain_name_never_touches_the_network() -> None:
    domain_name.cache_clear()
    # a fresh list too: the bundled snapshot must load without fetching
    public_suffixes.cache_clear()
    assert domain_name("a.b.example.com.hk").registrable == "example.com.hk"


def test_domain_of_takes_the_part_after_the_last_at() -> None:
    assert domain_of('"a@b"@Example.ORG') == "example.org"
    assert domain_of("nobody") == ""
