from __future__ import annotations

import pytest

from postwarden.engine.recipients.domains import domain_name
from postwarden.engine.recipients.webmail import (
    Providers,
    parse_domain_list,
    providers,
    webmail_domains,
)


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com.hk",
        "hotmail.com",
        "yahoo.com.hk",
        "ymail.com",
        "icloud.com",
        "netvigator.com",
        "i-cable.com",
        "hkbn.net",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "proton.me",
        "aol.com",
        "gmx.com",
    ],
)
def test_webmail_domains_include_hong_kong_and_mainland_providers(domain: str) -> None:
    assert domain in webmail_domains()


def test_parse_domain_list_skips_comments_and_blanks() -> None:
    text = "# providers\n\nGmail.com  # Google\n  qq.com\n#x.com\n"
    assert parse_domain_list(text) == frozenset({"gmail.com", "qq.com"})


def test_webmail_domains_entries_are_plain_lowercase_domains() -> None:
    for d in webmail_domains():
        assert d == d.lower().strip()
        assert "." in d
        assert " " not in d


@pytest.mark.parametrize(
    ("domain", "owner"),
    [
        ("yahoo.com.au", "yahoo"),
        ("yahoo.co.jp", "yahoo"),
        ("ymail.com", "yahoo"),
        ("fastmail.fm", "fastmail"),
        ("hotmail.fr", "outlook"),
        ("live.co.uk", "outlook"),
        ("vip.163.com", "163.com"),
        ("yeah.net", "163.com"),
        ("foxmail.com", "qq.com"),
        ("protonmail.ch", "proton.me"),
        ("inbox.ru", "mail.ru"),
        # a one-letter slip of .com or .net is no country variant
        ("yahoo.co", None),
        ("yahoo.cm", None),
        ("gmx.ne", None),
        ("gmail.fr", None),  # gmail has no wildcard
        ("yahoogroups.com", None),
    ],
)
def test_providers_name_the_owner_of_every_family_domain(domain: str, owner: str | None) -> None:
    assert providers().owner(domain_name(domain)) == owner


def test_parse_domain_list_reads_families_and_leaves_out_wildcards() -> None:
    text = "yahoo.* ymail.com yahoo.com  # Yahoo\nqq.com foxmail.com\n"
    assert parse_domain_list(text) == frozenset({"ymail.com", "yahoo.com", "qq.com", "foxmail.com"})
    book = Providers.parse(text, "groups.\nlists.\ngooglegroups.com\n")
    assert book.owner(domain_name("yahoo.de")) == "yahoo"
    assert book.is_list_host(domain_name("groups.yahoo.de"))
    assert book.is_list_host(domain_name("lists.qq.com"))
    assert book.is_list_host(domain_name("x.googlegroups.com"))
    assert not book.is_list_host(domain_name("groups.example.com"))
    assert not book.is_list_host(domain_name("qq.com"))
