"""The breach response commands end to end on a small voter-list leak."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.incidents.leak import Leak, build_leak, cli, read_csv
from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.cli.common import UsageError
from postwarden.settings import load_settings
from postwarden.store import audit
from postwarden.store.db import make_engine

LEAKED, EXTRA, DECEASED = 60, 25, 4


def pdf_text(path: Path) -> str:
    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


@pytest.fixture(scope="module")
def leak(tmp_path_factory: pytest.TempPathFactory) -> Leak:
    return build_leak(
        tmp_path_factory.mktemp("leak"), leaked=LEAKED, extra=EXTRA, deceased=DECEASED
    )


@pytest.fixture(scope="module")
def incident(leak: Leak) -> int:
    out = cli(
        leak.data_dir,
        "incident",
        "open",
        "--title",
        "Voter list to a personal gmail",
        "--files",
        str(leak.mistyped),
        "--files",
        str(leak.intended),
        "--data-user",
        "Registration and Electoral Office",
        "--data-user-zh",
        "選舉事務處",
        "--contact",
        "our Data Protection Officer (2891 1001)",
        "--by",
        "po.wong",
        "--json",
    )
    return int(json.loads(out.stdout)["id"])


def test_incident_open_scopes_both_sends_as_one_set_of_people(leak: Leak, incident: int) -> None:
    shown = json.loads(cli(leak.data_dir, "incident", "show", str(incident), "--json").stdout)
    scope = shown["scope"]
    assert scope["subjects"] == LEAKED
    assert scope["by_status"] == {"active": LEAKED - DECEASED, "deceased": DECEASED}
    assert scope["living"] == LEAKED - DECEASED
    assert scope["by_item"] == {str(i["id"]): {"voters": LEAKED} for i in shown["items"]}
    assert scope["by_recipient"] == {
        "chan.taiman@gmail.com": {"voters": LEAKED},
        "chan.taiman@gmial.com": {"voters": LEAKED},
    }
    assert [i["sent_at"][:16] for i in shown["items"]] == ["2026-03-02T09:15", "2026-03-02T09:19"]


def test_incident_open_refuses_the_same_file_twice(leak: Leak) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(leak.data_dir),
            "incident",
            "open",
            "--title",
            "dup",
            "--files",
            str(leak.mistyped),
            "--files",
            str(leak.mistyped),
        ],
    )
    assert isinstance(result.exception, UsageError)
    assert "already part of incident" in str(result.exception)


def test_incident_open_needs_something_that_left(leak: Leak) -> None:
    result = CliRunner().invoke(
        app, ["--data-dir", str(leak.data_dir), "incident", "open", "--title", "nothing"]
    )
    assert isinstance(result.exception, UsageError)


def test_incident_recall_and_confirmation_on_the_timeline(
    leak: Leak, incident: int, tmp_path: Path
) -> None:
    d = leak.data_dir
    cli(
        d,
        "incident",
        "add-recipient",
        str(incident),
        "chan.taiman@gmail.com",
        "--intended",
        "--note",
        "the officer's own mailbox",
        "--by",
        "po.wong",
    )
    outbox = tmp_path / "outbox"
    cli(
        d,
        "incident",
        "recall",
        str(incident),
        "--from",
        "dpo@reo.gov.hk",
        "--outbox",
        str(outbox),
        "--by",
        "po.wong",
    )
    sent = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(outbox.rglob("*.eml"))
    ]
    assert [str(m["To"]) for m in sent] == ["chan.taiman@gmial.com"]
    body = sent[0].get_body().get_content()
    assert "delete the email" in body
    assert "刪除該電郵" in body
    cli(
        d,
        "incident",
        "confirm-recall",
        str(incident),
        "chan.taiman@gmial.com",
        "--note",
        "replied: deleted",
        "--by",
        "po.wong",
    )
    cli(
        d,
        "incident",
        "status",
        str(incident),
        "contained",
        "--by",
        "po.wong",
        "--note",
        "recipient confirmed deletion",
    )
    shown = json.loads(cli(d, "incident", "show", str(incident), "--json").stdout)
    recipients = {r["address"]: r for r in shown["recipients"]}
    assert recipients["chan.taiman@gmial.com"]["confirmed_at"]
    assert not recipients["chan.taiman@gmail.com"]["unintended"]
    assert shown["status"] == "contained"
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[:3] == ["open", "item", "item"]
    assert {"recipient", "recall", "recall-confirmed", "status"} <= set(kinds)


def test_incident_status_refuses_an_unknown_status(leak: Leak, incident: int) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(leak.data_dir),
            "incident",
            "status",
            str(incident),
            "forgotten",
            "--by",
            "x",
            "--note",
            "y",
        ],
    )
    assert result.exit_code == 2


def test_incident_letters_only_to_living_people_in_scope(
    leak: Leak, incident: int, tmp_path: Path
) -> None:
    out = tmp_path / "letters"
    cli(
        leak.data_dir,
        "incident",
        "letters",
        str(incident),
        "--register-file",
        str(leak.register_file),
        "--out",
        str(out),
        "--workers",
        "2",
    )
    people = leak.people
    status = people.column("status")
    living = [i for i in range(LEAKED) if status[i] == "active"]
    rows = read_csv(out / "mail-merge.csv")
    assert [r["record_id"] for r in rows] == [people.column("id")[i] for i in living]
    letters = sorted(out.glob("letter-*.pdf"))
    assert len(letters) == len(living)
    names_en, names_zh = people.column("name_en"), people.column("name_zh")
    addresses = people.column("address_en")
    for n in (0, len(living) // 2, len(living) - 1):
        text = pdf_text(out / rows[n]["letter_file"])
        i = living[n]
        assert names_en[i] in text
        assert names_zh[i] in text
        assert addresses[i].split(",")[0] in text
        assert people.column("id")[i] in text
    merged = pdf_text(out / "letters-all.pdf")
    outside = [i for i in range(len(people)) if i >= LEAKED or status[i] != "active"]
    csv_text = (out / "mail-merge.csv").read_text(encoding="utf-8-sig")
    for i in outside:
        # Nobody outside the scope (or deceased) is written to, by name or id.
        rid = people.column("id")[i]
        assert rid not in merged
        assert rid not in csv_text
    assert all(people.column("id")[i] in merged for i in living)


def test_incident_report_numbers_match_the_scope(leak: Leak, incident: int, tmp_path: Path) -> None:
    d = leak.data_dir
    cli(
        d,
        "incident",
        "update",
        str(incident),
        "--cause",
        "autocomplete picked a mistyped address",
        "--remedial",
        "Webmail blocked at the gateway.",
        "--by",
        "po.wong",
    )
    data = {}
    for ext in ("json", "docx", "pdf"):
        cli(d, "incident", "report", str(incident), "--out", str(tmp_path / f"r.{ext}"))
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["data_subjects"]["subjects"] == LEAKED
    assert data["data_subjects"]["deceased"] == DECEASED
    assert data["containment"]["unintended_recipients"] == 1
    assert data["breach"]["cause"].startswith("autocomplete")
    assert data["breach"]["occurred_at"].startswith("2026-03-02T09:15")
    table = {
        row.cells[0].text: row.cells[1].text
        for t in docx.Document(str(tmp_path / "r.docx")).tables
        for row in t.rows
    }
    assert table["Number of data subjects"] == str(LEAKED)
    assert table["Deceased"] == str(DECEASED)
    text = pdf_text(tmp_path / "r.pdf")
    assert "選舉事務處" in text
    assert str(LEAKED - DECEASED) in text
    blob = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert not any(rid in blob for rid in leak.people.column("id"))


def test_incident_changes_are_in_a_valid_audit_chain(leak: Leak, incident: int) -> None:
    settings = load_settings(leak.data_dir)
    engine = make_engine(settings.db_url)
    with Session(engine) as session:
        kinds = list(session.scalars(select(audit.AuditEntry.kind)))
        assert audit.verify(session, secret=settings.secret()).ok
    engine.dispose()
    assert kinds.count("incident.item") >= 2
    assert "incident.open" in kinds
    list_out = cli(leak.data_dir, "incident", "list", "--json").stdout
    assert json.loads(list_out)[-1]["subjects"] == LEAKED


def test_incident_letters_read_the_file_as_the_register_was_imported(tmp_path: Path) -> None:
    small = build_leak(tmp_path, leaked=6, extra=2, deceased=1)
    # The office's own headings, which only an explicit mapping explains.
    renamed = tmp_path / "roll.csv"
    lines = small.register_file.read_text(encoding="utf-8").splitlines()
    heads = lines[0].split(",")
    lines[0] = ",".join(f"col {n}" for n in range(len(heads)))
    renamed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    maps = [a for n, h in enumerate(heads) for a in ("--map", f"col {n}={h}")]
    cli(small.data_dir, "register", "import", str(renamed), "--name", "voters", *maps)
    opened = cli(
        small.data_dir, "incident", "open", "--title", "t", "--files", str(small.intended), "--json"
    )
    out = tmp_path / "letters"
    cli(
        small.data_dir,
        "incident",
        "letters",
        str(json.loads(opened.stdout)["id"]),
        "--register-file",
        str(renamed),
        "--out",
        str(out),
        "--workers",
        "1",
    )
    assert len(read_csv(out / "mail-merge.csv")) == 5  # six leaked, one of them deceased
