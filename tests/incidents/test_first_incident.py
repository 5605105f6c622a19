"""Acceptance: the first incident end to end at full size (issue 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.incidents.leak import build_leak, cli, read_csv
from tests.incidents.test_incident_cli import pdf_text


@pytest.mark.slow
def test_first_incident_voter_list_to_personal_gmail(tmp_path: Path) -> None:
    leak = build_leak(tmp_path, leaked=15_070, extra=300, deceased=103)
    d = leak.data_dir
    opened = cli(
        d,
        "incident",
        "open",
        "--title",
        "Voter list sent to a personal gmail",
        "--files",
        str(leak.mistyped),
        "--files",
        str(leak.intended),
        "--data-user",
        "Registration and Electoral Office",
        "--json",
    )
    incident = str(json.loads(opened.stdout)["id"])
    scope = json.loads(cli(d, "incident", "show", incident, "--json").stdout)["scope"]
    assert scope["subjects"] == 15_070
    assert scope["by_status"] == {"active": 14_967, "deceased": 103}
    assert scope["by_recipient"] == {
        "chan.taiman@gmail.com": {"voters": 15_070},
        "chan.taiman@gmial.com": {"voters": 15_070},
    }
    out = tmp_path / "letters"
    cli(
        d,
        "incident",
        "letters",
        incident,
        "--register-file",
        str(leak.register_file),
        "--out",
        str(out),
    )
    rows = read_csv(out / "mail-merge.csv")
    assert len(rows) == 14_967
    assert len(list(out.glob("letter-*.pdf"))) == 14_967
    people = leak.people
    row_of = {rid: i for i, rid in enumerate(people.column("id"))}
    status = people.column("status")
    assert all(
        row_of[r["record_id"]] < 15_070 and status[row_of[r["record_id"]]] == "active" for r in rows
    )
    for n in (0, 7_481, 14_966):
        i = row_of[rows[n]["record_id"]]
        text = pdf_text(out / rows[n]["letter_file"])
        assert people.column("name_en")[i] in text
        assert people.column("name_zh")[i] in text
        assert people.column("address_zh")[i][:8] in text.replace("\n", "")
    cli(d, "incident", "report", incident, "--out", str(tmp_path / "report.json"))
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["data_subjects"]["subjects"] == 15_070
    assert report["data_subjects"]["living"] == 14_967
    assert report["notification_of_data_subjects"]["letters"] == 14_967
    assert report["notification_of_data_subjects"]["deceased_not_notified"] == 103
