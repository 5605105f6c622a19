"""Recipient judgement on real-world domains (issue 11): families, list hosts, own domains.

Each case in the first tables was misjudged before domain families, list hosts and the
organisation's own domains were known; the hard positives must still fire.
"""

from __future__ import annotations

import pytest

from postwarden.engine.recipients import ContactIndex, RecipientAnalyzer
from postwarden.model import RecipientClass, RecipientFlag

ORG = ("reo.gov.hk",)


def _analyzer(
    org: tuple[str, ...] = ORG, frequent: tuple[str, ...] = (), partners: tuple[str, ...] = ()
) -> RecipientAnalyzer:
    history = ContactIndex.build([(f"someone@{d}", 10) for d in frequent])
    return RecipientAnalyzer(org, partners, history=history)


def _one(analyzer: RecipientAnalyzer, address: str, sender: str = "tmchan@reo.gov.hk") -> set[str]:
    [info] = analyzer.analyze(sender, [address])
    return set(info.flags)


@pytest.mark.parametrize(
    ("frequent", "address"),
    [
        (("fastmail.com",), "someone@fastmail.fm"),
        (("yahoo.co.jp",), "someone@yahoo.com.au"),
        (("yahoo.com.hk",), "someone@yahoo.fr"),
        (("hotmail.com",), "someone@outlook.com"),
        (("outlook.com",), "someone@live.co.uk"),
        (("gmx.de",), "someone@gmx.at"),
        (("yandex.ru",), "someone@yandex.com.tr"),
        (("mail.ru",), "someone@inbox.ru"),
        (("163.com",), "someone@126.com"),
        (("protonmail.com",), "someone@proton.me"),
    ],
)
def test_one_providers_domains_are_never_lookalikes(
    frequent: tuple[str, ...], address: str
) -> None:
    analyzer = _analyzer(frequent=frequent)
    assert RecipientFlag.LOOKALIKE not in _one(analyzer, address)
    assert analyzer.classify(address) is RecipientClass.WEBMAIL


def test_fastmail_fm_is_no_lookalike_with_the_default_trust() -> None:
    analyzer = RecipientAnalyzer(ORG, history=ContactIndex.build([("a@fastmail.com", 9)]))
    [info] = analyzer.analyze("tmchan@reo.gov.hk", ["x@fastmail.fm"])
    assert info.cls is RecipientClass.WEBMAIL
    assert "lookalike" not in info.flags


@pytest.mark.parametrize(
    "address",
    ["owner@groups.msn.com", "x-l@listserv.aol.com", "team@googlegroups.com", "a@lists.yahoo.com"],
)
def test_list_hosts_of_webmail_providers_are_no_personal_mailboxes(address: str) -> None:
    analyzer = _analyzer()
    [info] = analyzer.analyze("tmchan@reo.gov.hk", [address])
    assert info.cls is RecipientClass.EXTERNAL
    assert RecipientFlag.MAILING_LIST in info.flags
    assert RecipientFlag.LOOKALIKE not in info.flags


def test_the_senders_own_other_gtld_is_no_lookalike() -> None:
    analyzer = _analyzer(org=("python.net",))
    assert RecipientFlag.LOOKALIKE not in _one(analyzer, "python-list@python.org", "g@python.net")


def test_the_senders_own_domain_is_never_a_lookalike() -> None:
    # The sender writes from reo.hk, which the settings do not list as the organisation's.
    analyzer = _analyzer()
    assert RecipientFlag.LOOKALIKE not in _one(analyzer, "colleague@reo.hk", "amy@reo.hk")
    # ... but anyone else writing there is warned.
    assert RecipientFlag.LOOKALIKE in _one(analyzer, "colleague@reo.hk", "tmchan@reo.gov.hk")


@pytest.mark.parametrize(
    ("frequent", "address"),
    [
        ((), "x@reo-gov.hk"),
        ((), "x@reo.gov.com"),
        ((), "x@reo.com.hk"),
        ((), "x@rеo.gov.hk"),  # Cyrillic е
        ((), "x@xn--ro-nlc.gov.hk"),  # the same, as punycode
        (("lawfirm.com.hk",), "x@lawfirrn.com.hk"),  # rn for m
        (("gmail.com",), "chan.taiman@gmaiI.com"),
        (("gmail.com",), "chan.taiman@gmial.com"),
        (("gmail.com",), "chan.taiman@gmail.co"),  # a slip of .com is no country variant
        (("yahoo.com.hk",), "x@yah00.com.hk"),
        (("yahoo.com.hk",), "x@yahoo.cm"),
        (("python.net",), "x@python.org"),  # a frequent contact's other gTLD still fires
    ],
)
def test_hard_positives_still_fire(frequent: tuple[str, ...], address: str) -> None:
    analyzer = _analyzer(frequent=frequent)
    assert RecipientFlag.LOOKALIKE in _one(analyzer, address)


def test_a_webmail_brand_nobody_writes_to_is_no_target() -> None:
    # gmail.com is imitated only when the organisation uses it (design.md, rule 4).
    assert RecipientFlag.LOOKALIKE not in _one(_analyzer(), "x@gmaiI.com")
