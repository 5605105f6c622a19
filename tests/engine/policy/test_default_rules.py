"""Every default rule on real messages: cases that must fire and near misses that must not."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from tests.factories import make_eml, make_pdf, make_zip

from postwarden.engine import Inspector
from postwarden.engine.recipients import ContactIndex

SENDER = "CHAN Tai Man <tmchan@reo.gov.hk>"
PDF = ("notes.pdf", make_pdf([["Meeting notes", "Agenda item 1"]]), "application/pdf")
LOCKED = ("data.zip", make_zip({"list.csv": b"a,b\n1,2\n"}, encrypt="aes"), "application/zip")


class _Exemptions:
    def exempt(self, sender: str, domain: str) -> bool:
        return sender == "chair@reo.gov.hk" and domain == "gmail.com"


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    history = ContactIndex.build(
        [
            ("alice.wong@lawfirm.com.hk", 12),
            ("ops@lawfirm.com.hk", 4),
            ("peter@partner.org.hk", 30),
        ],
        [("alice.wong@lawfirm.com.hk", "Alice WONG")],
    )
    return Inspector(
        org_domains=("reo.gov.hk",),
        partner_domains=("partner.org.hk",),
        history=history,
        exemptions=_Exemptions(),
    )


@dataclass(frozen=True)
class Case:
    name: str
    to: tuple[str, ...]
    body: str = "Please find the notes below."
    subject: str = "Meeting notes"
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    sender: str = SENDER
    extra: dict[str, str] = field(default_factory=dict)


def _media(n: int) -> tuple[str, ...]:
    return tuple(f"desk{i}@media{i}.com.hk" for i in range(n))


RULES: dict[str, tuple[list[Case], list[Case]]] = {
    "webmail-recipient": (
        [
            Case("gmail", ("someone@gmail.com",)),
            Case("yahoo hk among others", ("alice.wong@lawfirm.com.hk", "x@yahoo.com.hk")),
            Case("netvigator in bcc", ("peter@partner.org.hk",), bcc=("x@netvigator.com",)),
            Case("exemption covers its domain only", ("x@qq.com",), sender="chair@reo.gov.hk"),
        ],
        [
            Case("exempted sender", ("someone@gmail.com",), sender="chair@reo.gov.hk"),
            Case("typo domain is no webmail", ("someone@gmial.com",)),
            Case("internal only", ("colleague@reo.gov.hk",)),
        ],
    ),
    "lookalike-domain": (
        [
            Case("hyphenated org", ("x@reo-gov.hk",)),
            Case("extra label", ("x@reo.gov.hk.co",)),
            Case("tld swap", ("x@reo.gov.com",)),
            Case("rn for m", ("alice.wong@lawfirrn.com.hk",)),
        ],
        [
            Case("the real contact", ("alice.wong@lawfirm.com.hk",)),
            Case("subdomain of org", ("x@mail.reo.gov.hk",)),
            Case("unrelated", ("news@thestandard.com.hk",)),
        ],
    ),
    "near-known-recipient": (
        [
            Case("one edit", ("alice.wonq@lawfirm.com.hk",)),
            Case("same display name elsewhere", ("Alice Wong <aw@hkbar.org>",)),
        ],
        [
            Case("the known address", ("alice.wong@lawfirm.com.hk",)),
            Case("new colleague at known firm", ("bob.lee@lawfirm.com.hk",)),
            Case("role mailbox elsewhere", ("ops@otherfirm.com",)),
        ],
    ),
    "uninspectable-external": (
        [Case("encrypted zip out", ("peter@partner.org.hk",), attachments=(LOCKED,))],
        [
            Case("encrypted zip inside", ("colleague@reo.gov.hk",), attachments=(LOCKED,)),
            Case("plain pdf out", ("peter@partner.org.hk",), attachments=(PDF,)),
        ],
    ),
    "hkid-external": (
        [Case("valid hkid out", ("peter@partner.org.hk",), body="HKID: A123456(3)")],
        [
            Case("wrong check digit", ("peter@partner.org.hk",), body="HKID: A123456(4)"),
            Case("valid hkid inside", ("colleague@reo.gov.hk",), body="HKID: A123456(3)"),
        ],
    ),
    "visible-recipient-list": (
        [
            Case("21 in to", _media(21)),
            Case("11 to + 10 cc", _media(11), cc=tuple(f"b{i}@paper{i}.hk" for i in range(10))),
        ],
        [
            Case("20 in to", _media(20)),
            Case("60 in bcc", ("press@reo.gov.hk",), bcc=_media(60)),
            Case("25 internal", tuple(f"s{i}@reo.gov.hk" for i in range(25))),
        ],
    ),
    "test-send-with-attachment": (
        [
            Case(
                "[TEST] with pdf",
                ("peter@partner.org.hk",),
                subject="[TEST] reminder",
                attachments=(PDF,),
            ),
            Case(
                "測試 with pdf",
                ("peter@partner.org.hk",),
                subject="測試：會議通知",
                attachments=(PDF,),
            ),
        ],
        [
            Case("test without attachment", ("peter@partner.org.hk",), subject="[TEST] reminder"),
            Case(
                "test inside",
                ("colleague@reo.gov.hk",),
                subject="[TEST] reminder",
                attachments=(PDF,),
            ),
            Case("no marker", ("peter@partner.org.hk",), subject="Reminder", attachments=(PDF,)),
            Case(
                "testing word is no marker",
                ("peter@partner.org.hk",),
                subject="Contest results",
                attachments=(PDF,),
            ),
        ],
    ),
}

PARAMS = [
    pytest.param(rule, case, should, id=f"{rule}-{'fires' if should else 'quiet'}-{case.name}")
    for rule, (fire, quiet) in RULES.items()
    for should, cases in ((True, fire), (False, quiet))
    for case in cases
]


@pytest.mark.parametrize(("rule", "case", "should"), PARAMS)
def test_default_rule(inspector: Inspector, rule: str, case: Case, should: bool) -> None:
    raw = make_eml(
        sender=case.sender,
        to=case.to,
        cc=case.cc,
        bcc=case.bcc,
        subject=case.subject,
        body=case.body,
        attachments=case.attachments,
    )
    verdict = inspector.check(raw)
    fired = {r.rule for r in verdict.reasons}
    assert (rule in fired) is should, verdict.to_json()


def test_default_rules_internal_mail_is_delivered_with_findings(inspector: Inspector) -> None:
    raw = make_eml(
        sender=SENDER,
        to=["a@reo.gov.hk"],
        subject="[TEST] list",
        body="HKID: A123456(3)",
        attachments=[LOCKED],
    )
    verdict = inspector.check(raw)
    assert verdict.action.label == "deliver"
    assert {f.detector for f in verdict.findings} >= {"hkid", "uninspectable"}


def test_default_rules_action_is_the_strongest(inspector: Inspector) -> None:
    raw = make_eml(sender=SENDER, to=["x@gmail.com", "y@reo-gov.hk"], subject="hi", body="x")
    verdict = inspector.check(raw)
    assert verdict.action.label == "reject"
    assert {r.rule for r in verdict.reasons} == {"webmail-recipient", "lookalike-domain"}
