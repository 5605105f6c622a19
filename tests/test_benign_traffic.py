"""Ordinary outbound mail stays quiet: fewer than 1% of a generated day's traffic is stopped."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from tests.factories import make_docx, make_eml, make_pdf, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.recipients import ContactIndex
from postwarden.model import Action

ORG = "reo.gov.hk"
PARTNERS = ("eac.gov.hk", "cmab.gov.hk")
STAFF = [
    ("CHAN Tai Man", "tmchan"),
    ("WONG Siu Ming", "smwong"),
    ("LEE Ka Yan", "kylee"),
    ("CHEUNG Wai Kit", "wkcheung"),
    ("HO Mei Ling", "mlho"),
    ("NG Chi Keung", "ckng"),
]
CONTACTS = [
    f"{n}@{d}"
    for n, d in [
        ("alice.wong", "lawfirm.com.hk"),
        ("ops", "lawfirm.com.hk"),
        ("peter.lau", "printco.com.hk"),
        ("accounts", "printco.com.hk"),
        ("venue", "hkcec.com"),
        ("bookings", "hkcec.com"),
        ("support", "itvendor.com"),
        ("kelvin.ma", "itvendor.com"),
        ("audit", "audit.gov.hk"),
        ("secretary", "legco.gov.hk"),
        ("j.tsang", "hku.hk"),
        ("research", "cuhk.edu.hk"),
    ]
]
MEDIA = [
    f"{desk}@{outlet}"
    for desk, outlet in [
        ("newsdesk", "scmp.com"),
        ("news", "rthk.hk"),
        ("news", "thestandard.com.hk"),
        ("editor", "hk01.com"),
        ("news", "mingpao.com"),
        ("newsroom", "singtaonews.com"),
        ("desk", "hket.com"),
        ("news", "tvb.com"),
        ("news", "now.com"),
        ("news", "i-cable.com.hk"),
        ("hk", "reuters.com"),
        ("hkbureau", "bloomberg.net"),
        ("hk", "afp.com"),
        ("news", "on.cc"),
        ("news", "orientaldaily.com.hk"),
        ("editor", "hkfp.com"),
        ("news", "inmediahk.net"),
        ("news", "metroradio.com.hk"),
        ("news", "881903.com"),
        ("desk", "wenweipo.com"),
        ("news", "takungpao.com.hk"),
        ("editor", "thewitnesshk.com"),
        ("news", "hkcd.com"),
        ("chinese", "rthk.hk"),
        ("english", "rthk.hk"),
        ("city", "scmp.com"),
        ("politics", "hk01.com"),
        ("news", "headline.com.hk"),
        ("news", "am730.com.hk"),
        ("news", "skypost.hk"),
    ]
]
OFFICE_PHONES = ["2891 1001", "2891 1002", "3102 7788", "2827 3456", "2867 1234"]
TOPICS = [
    "venue booking",
    "printing schedule",
    "polling station layout",
    "IT maintenance window",
    "audit follow-up",
    "training session",
    "budget review",
    "publicity plan",
]


def _hkid_wrong_check(rng: random.Random) -> str:
    """An HKID-shaped number whose check digit is wrong."""
    letter = rng.choice("ABCDEGHKMPRVYZ")
    digits = [rng.randrange(10) for _ in range(6)]
    total = (
        36 * 9
        + (ord(letter) - 55) * 8
        + sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True))
    )
    right = (11 - total % 11) % 11
    wrong = rng.choice([c for c in range(11) if c != right])
    check = "A" if wrong == 10 else str(wrong)
    return f"{letter}{''.join(map(str, digits))}({check})"


def _signature(name: str, rng: random.Random) -> str:
    return (
        f"\n\nRegards,\n{name}\nExecutive Officer\nRegistration and Electoral Office\n"
        f"Tel: {rng.choice(OFFICE_PHONES)}  Fax: 2891 1533\n10/F, Harbour Centre, 25 Harbour "
        "Road, Wan Chai\n"
    )


def _messages(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    # Office files are made once and reused: fonts and zip writing cost more than checking.
    minutes = make_docx(
        [
            "Minutes of the liaison meeting",
            "Attendees: both offices",
            "Action: circulate the draft by Friday",
        ]
    )
    press = [
        make_pdf(
            [
                [
                    f"Press release {k}",
                    "Voter registration campaign launched today.",
                    "Enquiries: 2891 1001",
                ]
            ]
        )
        for k in range(4)
    ]
    quote = make_xlsx(
        {
            "Quote": [["item", "qty", "unit price"]]
            + [[f"item {k}", k + 1, 10 * k + 5] for k in range(20)]
        }
    )
    for i in range(80):
        name, local = rng.choice(STAFF)
        to = [f"{rng.choice(STAFF)[1]}@{ORG}" for _ in range(rng.randint(1, 30))]
        body = (
            f"Colleagues,\n\nThe {rng.choice(TOPICS)} meeting moves to room {i % 12 + 1}. "
            f"Ref: {rng.randrange(10**7, 10**8)}. Staff no. A{rng.randrange(10**5, 10**6)}."
            + _signature(name, rng)
        )
        yield (
            "internal memo",
            make_eml(sender=f"{name} <{local}@{ORG}>", to=to, subject=f"Memo {i}", body=body),
        )
    for i in range(80):
        name, local = rng.choice(STAFF)
        to = [f"officer{rng.randrange(9)}@{rng.choice(PARTNERS)}"]
        attachments = []
        if i % 3 == 0:
            attachments.append(
                (
                    "minutes.docx",
                    minutes,
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            )
        body = (
            f"Dear colleague,\n\nFurther to our call about the {rng.choice(TOPICS)}, please "
            f"see the revised timetable. Our file ref REO/{rng.randrange(1000, 9999)}/24."
            + _signature(name, rng)
        )
        yield (
            "partner",
            make_eml(
                sender=f"{name} <{local}@{ORG}>",
                to=to,
                cc=[f"{local}@{ORG}"],
                subject=f"RE: {rng.choice(TOPICS)}",
                body=body,
                attachments=attachments,
            ),
        )
    for i in range(40):
        name, local = rng.choice(STAFF)
        pdf = press[i % len(press)]
        yield (
            "press release",
            make_eml(
                sender=f"{name} <{local}@{ORG}>",
                to=[f"press@{ORG}"],
                bcc=MEDIA,
                subject=f"Press release: voter registration {i}",
                body="Please see the attached." + _signature(name, rng),
                attachments=[("press.pdf", pdf, "application/pdf")],
            ),
        )
    for i in range(60):
        name, local = rng.choice(STAFF)
        to = rng.sample(CONTACTS, rng.randint(1, 3))
        body = (
            f"Dear Sir/Madam,\n\nInvoice no. {rng.randrange(10**7, 10**8)} dated "
            f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/2024 for the {rng.choice(TOPICS)} "
            f"is attached. The reference printed on the form is {_hkid_wrong_check(rng)}; "
            f"our order {_hkid_wrong_check(rng)} follows." + _signature(name, rng)
        )
        attachments = []
        if i % 4 == 0:
            attachments.append(
                (
                    "quote.xlsx",
                    quote,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
            )
        yield (
            "contact",
            make_eml(
                sender=f"{name} <{local}@{ORG}>",
                to=to,
                subject=f"Invoice {i}",
                body=body,
                attachments=attachments,
            ),
        )
    for i in range(45):
        name, local = rng.choice(STAFF)
        to = [
            f"enquiry{i}@{rng.choice(['hkbar.org', 'hkics.org.hk', 'ywca.org.hk', 'hkcss.org.hk'])}"
        ]
        body = (
            f"Dear Sir/Madam,\n\nThank you for your enquiry of {rng.randint(1, 28)} March. "
            "The registration deadline is 2 June; forms are available at our offices and "
            "online. Please call our hotline 2891 1001 for details." + _signature(name, rng)
        )
        yield (
            "first contact",
            make_eml(sender=f"{name} <{local}@{ORG}>", to=to, subject="Your enquiry", body=body),
        )


@pytest.mark.slow
def test_benign_traffic_is_not_stopped() -> None:
    rng = random.Random(20240601)
    history = ContactIndex.build(
        [(a, rng.randint(3, 40)) for a in CONTACTS + MEDIA]
        + [(f"officer{k}@{d}", 20) for k in range(9) for d in PARTNERS]
    )
    inspector = Inspector(org_domains=(ORG,), partner_domains=PARTNERS, history=history)
    stopped: list[tuple[str, str, list[str]]] = []
    total = with_findings = 0
    for kind, raw in _messages(rng):
        total += 1
        verdict = inspector.check(raw)
        with_findings += bool(verdict.findings)
        if verdict.action >= Action.HOLD:
            stopped.append((kind, verdict.action.label, [r.rule for r in verdict.reasons]))
    assert total >= 300
    # the content was really inspected: signatures carry phone numbers and addresses
    assert with_findings > total / 2
    assert len(stopped) < total / 100, stopped
