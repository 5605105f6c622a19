"""``postwarden incident scope``: distinct records in leaked files, by status, exported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.cli.invocation import run_cli
from tests.engine.registers.people import People, generate
from tests.factories import make_csv, make_docx, make_eml, make_xlsx, make_zip
from typer.testing import CliRunner

from postwarden.cli import app

PEOPLE = generate(3_000, seed=31, deceased=0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scope")
    d = root / "var"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["--data-dir", str(d), "init", "--org-domain", "reo.gov.hk"]).exit_code
        == 0
    )
    source = root / "voters.csv"
    source.write_text(PEOPLE.csv_text(), encoding="utf-8")
    result = runner.invoke(
        app, ["--data-dir", str(d), "register", "import", str(source), "--name", "voters"]
    )
    assert result.exit_code == 0, result.output
    return d


def test_incident_scope_counts_distinct_records_by_status(data_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = rng.choice(3_000, size=600, replace=False)
    b = np.concatenate([a[:100], rng.choice(np.setdiff1d(np.arange(3_000), a), 200, replace=False)])
    c = b[:1]
    xlsx = tmp_path / "leak.xlsx"
    xlsx.write_bytes(make_xlsx({"S": [list(People.COLUMNS), *PEOPLE.rows(People.COLUMNS, a)]}))
    nested = tmp_path / "more.zip"
    inner = make_csv([["name", "address"], *PEOPLE.rows(("name_zh", "address_en"), b)])
    nested.write_bytes(make_zip({"x.zip": make_zip({"list.csv": inner})}))
    message = tmp_path / "reply.eml"
    message.write_bytes(
        make_eml(
            sender="x@reo.gov.hk",
            to=["y@example.com"],
            subject="s",
            body=f"HKID {PEOPLE.hkid[c[0]]}",
        )
    )
    docx = tmp_path / "notes.docx"
    docx.write_bytes(make_docx(paragraphs=["nothing personal here"]))
    export = tmp_path / "affected.csv"
    code, out, err = run_cli(
        data_dir,
        "incident",
        "scope",
        str(xlsx),
        str(nested),
        str(message),
        str(docx),
        "--register",
        "voters",
        "--json",
        "--export",
        str(export),
    )
    assert code == 0, err
    result = json.loads(out)
    everyone = set(a.tolist()) | set(b.tolist())
    assert result["subjects"] == len(everyone) == 800
    expected: dict[str, int] = {}
    for i in everyone:
        expected[str(PEOPLE.status[i])] = expected.get(str(PEOPLE.status[i]), 0) + 1
    assert result["by_status"] == expected
    assert "deceased" in result["by_status"]
    assert [f["subjects"] for f in result["files"]] == [600, 300, 1, 0]
    with export.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["id"]
    assert {r[0] for r in rows[1:]} == {str(PEOPLE.id[i]) for i in everyone}


def test_incident_scope_reports_what_it_could_not_read(data_dir: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.zip"
    locked.write_bytes(make_zip({"list.csv": b"id,hkid\n1,A123456(3)\n"}, encrypt="aes"))
    code, out, err = run_cli(
        data_dir, "incident", "scope", str(locked), "--register", "voters", "--json"
    )
    assert code == 0
    assert json.loads(out)["files"][0]["uninspectable"]
    assert "not inspected" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("missing.xlsx", "--register", "voters"), 2, "no such file"),
        (("{here}", "--register", "nobody"), 1, "no register named 'nobody'"),
    ],
)
def test_incident_scope_errors(
    data_dir: Path, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    here = tmp_path / "a.csv"
    here.write_bytes(b"x\n")
    got, _, err = run_cli(
        data_dir, "incident", "scope", *(a.replace("{here}", str(here)) for a in args)
    )
    assert got == code
    assert message in err
