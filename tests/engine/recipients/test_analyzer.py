from __future__ import annotations

import pytest

from postwarden.engine.recipients import (
    ContactIndex,
    RecipientAnalyzer,
)
from postwarden.model import RecipientClass

ORG = ("reo.gov.hk",)
PARTNERS = ("partner.org.hk",)


class _Exempt:
    def __init__(self, grants: set[tuple[str, str]]) -> None:
        self.grants = grants

    def exempt(self, sender: str, domain: str) -> bool:
        return any(
            s == sender and (domain == d or domain.endswith("." + d)) for s, d in self.grants
        )


def _history() -> ContactIndex:
    return ContactIndex.build(
        [
            ("chan.taiman@gmail.com", 5),
            ("alice.wong@lawfirm.com.hk", 12),
            ("info@media.com.hk", 9),
            ("peter@partner.org.hk", 30),
        ],
        [("alice.wong@lawfirm.com.hk", "Alice WONG"), ("tmchan@reo.gov.hk", "Chan Tai-man")],
    )


@pytest.fixture
def analyzer() -> RecipientAnalyzer:
    return RecipientAnalyzer(
        ORG, PARTNERS, history=_history(), exemptions=_Exempt({("boss@reo.gov.hk", "gmail.com")})
    )


@pytest.mark.parametrize(
    ("address", "cls"),
    [
        ("a@reo.gov.hk", RecipientClass.INTERNAL),
        ("a@mail.reo.gov.hk", RecipientClass.INTERNAL),
        ("a@partner.org.hk", RecipientClass.PARTNER),
        ("a@gmail.com", RecipientClass.WEBMAIL),
        ("a@yahoo.com.hk", RecipientClass.WEBMAIL),
        ("a@vip.163.com", RecipientClass.WEBMAIL),
        ("a@NETVIGATOR.COM", RecipientClass.WEBMAIL),
        ("a@lawfirm.com.hk", RecipientClass.EXTERNAL),
        ("a@reo.gov.hk.evil.com", RecipientClass.EXTERNAL),
        ("a@notreo.gov.hk", RecipientClass.EXTERNAL),
    ],
)
def test_classify_by_domain(analyzer: RecipientAnalyzer, address: str, cls: RecipientClass) -> None:
    assert analyzer.classify(address) is cls


@pytest.mark.parametrize(
    ("address", "how"),
    [
        ("x@reo.gov.hk.co", "extra labels"),
        ("x@reo.gov.hk.evil.com", "extra labels"),
        ("x@reo-gov.hk", "dots or hyphens moved"),
        ("x@reogov.hk", "dots or hyphens moved"),
        ("x@reo.gov.com", "top-level domain swapped"),
        ("x@reo.com.hk", "top-level domain swapped"),
        ("x@rеo.gov.hk", "homoglyph"),  # Cyrillic е
        ("x@xn--ro-nlc.gov.hk", "punycode homoglyph"),  # rеo, Cyrillic е
        ("x@gmial.com", "misspelt"),
        ("x@lawfirrn.com.hk", "homoglyph"),  # rn for m
        ("x@lawfrm.com.hk", "misspelt"),
        ("x@partner.org", "top-level domain swapped"),
    ],
)
def test_analyze_flags_lookalike_domains(
    analyzer: RecipientAnalyzer, address: str, how: str
) -> None:
    [info] = analyzer.analyze("tmchan@reo.gov.hk", [address])
    assert "lookalike" in info.flags
    assert any(how in d for d in info.detail), info.detail


@pytest.mark.parametrize(
    "address",
    [
        "x@mail.reo.gov.hk",  # subdomain of the org: internal
        "x@lawfirm.com.hk",  # the frequent contact itself
        "x@news.lawfirm.com.hk",  # its subdomain
        "x@scmp.com",  # unrelated
        "x@rthk.hk",
        "x@hku.hk",
        "x@gmail.com",  # webmail itself
        "x@hotmail.com",
        "x@mall.com",
    ],
)
def test_analyze_does_not_flag_real_domains(analyzer: RecipientAnalyzer, address: str) -> None:
    [info] = analyzer.analyze("tmchan@reo.gov.hk", [address])
    assert "lookalike" not in info.flags


def test_analyze_first_time_only_for_unknown_outside_addresses(analyzer: RecipientAnalyzer) -> None:
    infos = analyzer.analyze(
        "tmchan@reo.gov.hk", ["alice.wong@lawfirm.com.hk", "bob@lawfirm.com.hk", "c@reo.gov.hk"]
    )
    assert [("first-time" in i.flags) for i in infos] == [False, True, False]


@pytest.mark.parametrize(
    ("address", "display", "why"),
    [
        ("chan.tiaman@gmail.com", "", "one character away from chan.taiman@gmail.com"),
        ("chan.taima@gmail.com", "", "one character away"),
        ("alice.wong@gmail.com", "", "same mailbox name as alice.wong@lawfirm.com.hk"),
        ("aw1990@yahoo.com.hk", "Wong Alice", "is known as alice.wong@lawfirm.com.hk"),
    ],
)
def test_analyze_flags_near_known(
    analyzer: RecipientAnalyzer, address: str, display: str, why: str
) -> None:
    [info] = analyzer.analyze("tmchan@reo.gov.hk", [address], display_names={address: display})
    assert "near-known" in info.flags
    assert any(why in d for d in info.detail), info.detail


@pytest.mark.parametrize(
    ("address", "display"),
    [
        ("chan.taiman@gmail.com", ""),  # known itself
        ("info@othermedia.com.hk", ""),  # role mailbox at another domain
        ("bob.lee@gmail.com", "Bob LEE"),  # nobody close
        ("ab@gmail.com", ""),  # too short to be a slip of anything
        ("someone@lawfirm.com.hk", "Alice"),  # one-word name is no identity
    ],
)
def test_analyze_near_known_misses(analyzer: RecipientAnalyzer, address: str, display: str) -> None:
    [info] = analyzer.analyze("tmchan@reo.gov.hk", [address], display_names={address: display})
    assert "near-known" not in info.flags


@pytest.mark.parametrize(
    ("sender", "sender_name", "address", "expected"),
    [
        ("tmchan@reo.gov.hk", "", "tmchan1985@gmail.com", True),
        ("tmchan@reo.gov.hk", "CHAN Tai Man", "chantaiman@yahoo.com.hk", True),
        ("tmchan@reo.gov.hk", "CHAN Tai Man", "taiman.chan@outlook.com", True),
        ("tmchan@reo.gov.hk", "", "chan.taiman.hk@hotmail.com", True),  # name from history
        ("tmchan@reo.gov.hk", "CHAN Tai Man", "wongsiuming@gmail.com", False),
        ("tmchan@reo.gov.hk", "CHAN Tai Man", "tmchan@lawfirm.com.hk", False),  # not webmail
        ("ab@reo.gov.hk", "", "ab@gmail.com", False),  # too short to tell
    ],
)
def test_analyze_flags_self_forward(
    analyzer: RecipientAnalyzer, sender: str, sender_name: str, address: str, expected: bool
) -> None:
    [info] = analyzer.analyze(sender, [address], sender_name=sender_name)
    assert ("self-forward" in info.flags) is expected


def test_analyze_marks_exempt_recipients_for_that_sender_only(
    analyzer: RecipientAnalyzer,
) -> None:
    [mine] = analyzer.analyze("boss@reo.gov.hk", ["x@gmail.com"])
    [other] = analyzer.analyze("tmchan@reo.gov.hk", ["x@gmail.com"])
    assert "exempt" in mine.flags
    assert "exempt" not in other.flags


def test_analyze_rebuilds_lookalike_targets_when_history_grows() -> None:
    history = ContactIndex()
    analyzer = RecipientAnalyzer(ORG, history=history)
    [before] = analyzer.analyze("a@reo.gov.hk", ["x@acmebank.com.cn"])
    history.set_count("ops@acmebank.com.hk", 10)
    [after] = analyzer.analyze("a@reo.gov.hk", ["x@acmebank.com.cn"])
    assert "lookalike" not in before.flags
    assert "lookalike" in after.flags
