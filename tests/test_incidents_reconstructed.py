"""The two incidents Postwarden exists for, end to end through ``build_inspector``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from tests.engine.registers.people import People, generate
from tests.factories import make_docx, make_eml, make_pdf, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.registers import import_register
from postwarden.inspector import build_inspector
from postwarden.settings import init_data_dir

ORG = "reo.gov.hk"
SENDER = f"CHAN Tai Man <tmchan@{ORG}>"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VOTERS = 15_070
MEMBERS = 64


@pytest.fixture(scope="module")
def voters() -> People:
    return generate(VOTERS, seed=11)


@pytest.fixture(scope="module")
def members() -> People:
    return generate(MEMBERS, seed=23)


@pytest.fixture(scope="module")
def inspector(
    tmp_path_factory: pytest.TempPathFactory, voters: People, members: People
) -> Inspector:
    data_dir = tmp_path_factory.mktemp("incidents") / "var"
    settings = init_data_dir(data_dir, [ORG])
    for name, people, columns in [
        ("voters", voters, People.COLUMNS),
        ("members", members, ("id", "name_en", "phone", "email", "status")),
    ]:
        csv_path = data_dir.parent / f"{name}.csv"
        csv_path.write_text(people.csv_text(columns), encoding="utf-8")
        import_register(csv_path, name, settings.registers_dir, settings.secret())
        csv_path.unlink()
    return build_inspector(settings)


def _present(subjects: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in subjects.items() if n}


def _slip(members: People, i: int) -> list[str]:
    return [
        "Reply slip - Committee meeting",
        f"Name: {members.name_en[i]}",
        f"Tel: {members.phone[i]}",
        f"Email: {members.email[i]}",
        "I will attend: Yes",
    ]


def _reminder(members: People, to: list[str], slip_of: int | None) -> bytes:
    attachments = []
    if slip_of is not None:
        lines = _slip(members, slip_of)
        attachments = [
            ("reply_slip.docx", make_docx(lines), DOCX),
            ("reply_slip.pdf", make_pdf([lines]), "application/pdf"),
        ]
    return make_eml(
        sender=SENDER,
        to=[f"secretariat@{ORG}"],
        bcc=to,
        subject="[TEST] Reminder: committee meeting on Friday",
        body="Dear Members,\n\nPlease return the attached reply slip.\n",
        attachments=attachments,
    )


@pytest.mark.slow
@pytest.mark.parametrize("address", ["chantaiman1958@gmail.com", "chantaiman1985@gmail.com"])
def test_voter_register_to_personal_gmail_is_rejected(
    inspector: Inspector, voters: People, address: str
) -> None:
    rows = [["姓名", "English name", "HKID", "Address", "Phone"]] + [
        list(r) for r in voters.rows(("name_zh", "name_en", "hkid", "address_en", "phone"))
    ]
    raw = make_eml(
        sender=SENDER,
        to=[address],
        subject="voter list",
        body="As discussed.",
        attachments=[("voters.xlsx", make_xlsx({"Sheet1": rows}), XLSX)],
    )
    verdict = inspector.check(raw)
    fired = {r.rule: r.action.label for r in verdict.reasons}
    assert verdict.action.label == "reject"
    assert verdict.subjects["voters"] == VOTERS
    assert fired["webmail-recipient"] == "reject"
    assert fired["register-data-external"] == "reject"  # escalated: more than 100 people


def test_test_reminder_with_another_members_slip_is_held(
    inspector: Inspector, members: People
) -> None:
    everyone = [str(e) for e in members.email.tolist()]
    verdict = inspector.check(_reminder(members, everyone, slip_of=5))
    fired = {r.rule: r.action.label for r in verdict.reasons}
    assert verdict.action.label == "hold"
    assert _present(verdict.subjects) == {"members": 1}
    assert fired["subject-not-recipient"] == "hold"
    assert fired["register-data-external"] == "hold"
    assert fired["test-send-with-attachment"] == "warn"


def test_mail_merge_of_each_members_own_slip_is_delivered(
    inspector: Inspector, members: People
) -> None:
    for i in range(0, MEMBERS, 8):
        own = str(members.email[i])
        verdict = inspector.check(
            make_eml(
                sender=SENDER,
                to=[own],
                subject="Reminder: committee meeting on Friday",
                body="Please return the attached reply slip.",
                attachments=[("reply_slip.docx", make_docx(_slip(members, i)), DOCX)],
            )
        )
        assert _present(verdict.subjects) == {"members": 1}
        assert verdict.action.label == "deliver", verdict.to_json()["reasons"]


def test_own_slip_to_someone_else_is_held(inspector: Inspector, members: People) -> None:
    verdict = inspector.check(
        make_eml(
            sender=SENDER,
            to=[str(members.email[1])],
            subject="Reminder",
            body="Please return the attached reply slip.",
            attachments=[("reply_slip.docx", make_docx(_slip(members, 2)), DOCX)],
        )
    )
    assert "subject-not-recipient" in {r.rule for r in verdict.reasons}
    assert verdict.action.label == "hold"


def test_same_reminder_without_attachment_is_delivered(
    inspector: Inspector, members: People
) -> None:
    everyone = [str(e) for e in members.email.tolist()]
    verdict = inspector.check(_reminder(members, everyone, slip_of=None))
    assert verdict.action.label == "deliver", verdict.to_json()["reasons"]
    assert len(verdict.recipients) == MEMBERS + 1


# Registered correspondents (issue 11): the committee registered personal webmail addresses.
WEBMAIL = ("gmail.com", "yahoo.com.hk", "qq.com", "hotmail.com")


@pytest.fixture(scope="module")
def committee(members: People) -> People:
    emails = [f"member{i:02d}.hk@{WEBMAIL[i % len(WEBMAIL)]}" for i in range(MEMBERS)]
    return dataclasses.replace(members, email=np.array(emails, dtype=members.email.dtype))


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory, committee: People) -> Inspector:
    data_dir = tmp_path_factory.mktemp("committee") / "var"
    settings = init_data_dir(data_dir, [ORG])
    csv_path = data_dir.parent / "members.csv"
    csv_path.write_text(
        committee.csv_text(("id", "name_en", "phone", "email", "status")), encoding="utf-8"
    )
    import_register(csv_path, "members", settings.registers_dir, settings.secret())
    csv_path.unlink()
    return build_inspector(settings)


def _slip_to(people: People, to: str, slip_of: int) -> bytes:
    return make_eml(
        sender=SENDER,
        to=[to],
        subject="Reminder: committee meeting on Friday",
        body="Please return the attached reply slip.",
        attachments=[("reply_slip.docx", make_docx(_slip(people, slip_of)), DOCX)],
    )


def test_mail_merge_of_own_slips_to_registered_webmail_is_delivered(
    office: Inspector, committee: People
) -> None:
    for i in range(len(WEBMAIL) * 2):
        own = str(committee.email[i])
        verdict = office.check(_slip_to(committee, own, i))
        assert _present(verdict.subjects) == {"members": 1}
        [recipient] = verdict.recipients
        assert recipient.cls.value == "webmail"
        assert "registered-correspondent" in recipient.flags
        assert verdict.action.label == "deliver", verdict.to_json()["reasons"]


def test_reminder_in_bcc_to_64_registered_webmail_members_is_delivered(
    office: Inspector, committee: People
) -> None:
    everyone = [str(e) for e in committee.email.tolist()]
    verdict = office.check(_reminder(committee, everyone, slip_of=None))
    assert verdict.action.label == "deliver", verdict.to_json()["reasons"]
    outside = [r for r in verdict.recipients if r.cls.value == "webmail"]
    assert len(outside) == MEMBERS
    assert all("registered-correspondent" in r.flags for r in outside)


def test_another_members_slip_to_a_registered_webmail_address_is_held(
    office: Inspector, committee: People
) -> None:
    verdict = office.check(_slip_to(committee, str(committee.email[1]), 2))
    fired = {r.rule: r.action.label for r in verdict.reasons}
    assert verdict.action.label == "hold"
    assert fired["subject-not-recipient"] == "hold"
    assert "webmail-recipient" not in fired


def test_unregistered_webmail_address_is_still_rejected(
    office: Inspector, committee: People
) -> None:
    verdict = office.check(_slip_to(committee, "member99.hk@gmail.com", 2))
    assert verdict.action.label == "reject"
    assert "webmail-recipient" in {r.rule for r in verdict.reasons}
