from __future__ import annotations

import pytest

from postwarden.engine.recipients.webmail import parse_domain_list, webmail_domains


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
