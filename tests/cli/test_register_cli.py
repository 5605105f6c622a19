"""``postwarden register import | list | drop`` and ``check`` with a register, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.invocation import run_cli
from tests.engine.registers.people import generate
from tests.factories import make_csv, make_eml, make_xlsx
from typer.testing import CliRunner

from postwarden.cli import app


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    result = CliRunner().invoke(app, ["--data-dir", str(d), "init", "--org-domain", "reo.gov.hk"])
    assert result.exit_code == 0, result.output
    return d


def _register_file(tmp_path: Path, n: int = 500) -> Path:
    path = tmp_path / "voters.csv"
    path.write_text(generate(n, seed=21).csv_text(), encoding="utf-8")
    return path


def test_register_import_list_drop(data_dir: Path, tmp_path: Path) -> None:
    code, out, _ = run_cli(
        data_dir, "register", "import", str(_register_file(tmp_path)), "--name", "voters"
    )
    assert code == 0
    assert "imported register voters: 500 records" in out
    code, out, _ = run_cli(data_dir, "register", "list", "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["name"] == "voters"
    assert listed["rows"] == 500
    assert set(listed["fields"]) == {
        "address_en",
        "address_zh",
        "hkid",
        "name_en",
        "name_zh",
        "phone",
    }
    assert listed["imported_at"]
    code, out, _ = run_cli(data_dir, "register", "drop", "voters")
    assert code == 0
    code, out, _ = run_cli(data_dir, "register", "list")
    assert "no registers" in out


def test_register_import_with_map(data_dir: Path, tmp_path: Path) -> None:
    rows = [["Ref", "Who", "Mobile no"], ["A1", "CHAN Tai Man", "9123 4567"]]
    path = tmp_path / "p.xlsx"
    path.write_bytes(make_xlsx({"S": rows}))
    code, out, err = run_cli(
        data_dir,
        "register",
        "import",
        str(path),
        "--name",
        "p",
        "--map",
        "Ref=id",
        "--map",
        "Who=name_en",
    )
    assert code == 0, err
    assert "name_en 1" in out
    assert "phone 1" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--name", "bad name"), 2, "invalid register name"),
        (("--name", "v", "--map", "id"), 2, "COLUMN=FIELD"),
        (("--name", "v", "--map", "id=nickname"), 2, "unknown field"),
        (("--name", "v", "--map", "Nope=id"), 2, "header lacks"),
    ],
)
def test_register_import_usage_errors(
    data_dir: Path, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    got, _, err = run_cli(data_dir, "register", "import", str(_register_file(tmp_path)), *args)
    assert got == code
    assert message in err


def test_register_import_bad_file_keeps_previous(data_dir: Path, tmp_path: Path) -> None:
    assert (
        run_cli(data_dir, "register", "import", str(_register_file(tmp_path)), "--name", "v")[0]
        == 0
    )
    bad = tmp_path / "dup.csv"
    bad.write_bytes(make_csv([["id", "name_en"], ["1", "CHAN Tai Man"], ["1", "LEE Siu Ming"]]))
    code, _, err = run_cli(data_dir, "register", "import", str(bad), "--name", "v")
    assert code == 1
    assert "appears more than once" in err
    assert "left as it was" in err
    _, out, _ = run_cli(data_dir, "register", "list", "--json")
    assert json.loads(out)[0]["rows"] == 500
    code, _, err = run_cli(
        data_dir, "register", "import", str(tmp_path / "missing.csv"), "--name", "v"
    )
    assert code == 2
    assert "no such file" in err


def test_register_drop_unknown_is_operational_error(data_dir: Path) -> None:
    code, _, err = run_cli(data_dir, "register", "drop", "nobody")
    assert code == 1
    assert "no register named 'nobody'" in err


def test_check_json_counts_register_subjects(data_dir: Path, tmp_path: Path) -> None:
    people = generate(500, seed=21)
    run_cli(data_dir, "register", "import", str(_register_file(tmp_path)), "--name", "voters")
    message = tmp_path / "m.eml"
    message.write_bytes(
        make_eml(
            sender="clerk@reo.gov.hk",
            to=["friend@example.com"],
            subject="slip",
            body=f"Name: {people.name_en[3]}\nTel: {people.phone[3]}\n",
        )
    )
    code, out, _ = run_cli(data_dir, "check", str(message), "--json")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["subjects"] == {"voters": 1}
    (finding,) = [f for f in verdict["findings"] if f["detector"] == "register:voters"]
    assert finding == {"detector": "register:voters", "count": 1, "where": "body"}


def test_register_remembers_its_mapping_for_a_reimport(data_dir: Path, tmp_path: Path) -> None:
    rows = [["Ref", "Who", "Mobile no"], ["A1", "CHAN Tai Man", "9123 4567"]]
    path = tmp_path / "p.xlsx"
    path.write_bytes(make_xlsx({"S": rows}))
    args = ("register", "import", str(path), "--name", "p")
    code, _, err = run_cli(data_dir, *args, "--map", "Ref=id", "--map", "Who=name_en")
    assert code == 0, err
    code, out, _ = run_cli(data_dir, "register", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["reading"]["mapping"] == {"Ref": "id", "Who": "name_en"}
    code, out, _ = run_cli(data_dir, "register", "list")
    assert "--map Ref=id --map Who=name_en" in out
    # Re-imported without --map, the file is read as the last import read it.
    code, out, err = run_cli(data_dir, *args)
    assert code == 0, err
    assert "name_en 1" in out
    assert "ignored columns" not in out


def test_register_import_sheet_and_header_row(data_dir: Path, tmp_path: Path) -> None:
    people = [["Ref", "English name", "Mobile no"], ["A1", "CHAN Tai Man", "9123 4567"]]
    book = {"Cover": [["Voters, 2026"]], "Roll": [["Register of voters"], [], *people]}
    path = tmp_path / "roll.xlsx"
    path.write_bytes(make_xlsx(book))
    args = ("register", "import", str(path), "--name", "roll")
    code, _, err = run_cli(data_dir, *args, "--sheet", "Nope")
    assert code == 1
    assert "no sheet 'Nope'" in err
    code, out, err = run_cli(data_dir, *args, "--sheet", "Roll", "--header-row", "3")
    assert code == 0, err
    assert "name_en 1" in out
    code, out, _ = run_cli(data_dir, "register", "list")
    assert "--sheet Roll --header-row 3" in out
    code, out, err = run_cli(data_dir, *args)  # remembered
    assert code == 0, err
    assert "phone 1" in out


def test_check_json_flags_a_registered_correspondent(data_dir: Path, tmp_path: Path) -> None:
    register = tmp_path / "members.csv"
    register.write_bytes(
        make_csv(
            [
                ["id", "name_en", "phone", "email"],
                ["1", "CHAN Tai Man", "91234567", "chantaiman.hk@gmail.com"],
            ]
        )
    )
    run_cli(data_dir, "register", "import", str(register), "--name", "members")
    message = tmp_path / "m.eml"
    message.write_bytes(
        make_eml(
            sender="clerk@reo.gov.hk",
            to=["chantaiman.hk@gmail.com", "someone.else@gmail.com"],
            subject="Committee meeting",
            body="Dear Members, the meeting is on Friday.",
        )
    )
    code, out, _ = run_cli(data_dir, "check", str(message), "--json")
    assert code == 0
    verdict = json.loads(out)
    flags = {r["address"]: r["flags"] for r in verdict["recipients"]}
    assert "registered-correspondent" in flags["chantaiman.hk@gmail.com"]
    assert "registered-correspondent" not in flags["someone.else@gmail.com"]
    # The unregistered webmail address alone is what the webmail rule names.
    (webmail,) = [r for r in verdict["reasons"] if r["rule"] == "webmail-recipient"]
    assert "someone.else@gmail.com" in " ".join(webmail["evidence"])
    assert "chantaiman.hk@gmail.com" not in " ".join(webmail["evidence"])
