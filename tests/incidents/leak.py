"""A voter-list leak for the incident tests: a register, its clear file and the two emails."""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import numpy as np
from tests.engine.registers.people import People, generate
from tests.factories import make_eml, make_xlsx
from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.engine.registers import import_register
from postwarden.settings import init_data_dir

HKT = timezone(timedelta(hours=8))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEAK_COLUMNS = ("id", "name_zh", "name_en", "hkid", "address_en", "address_zh", "phone")


@dataclass(frozen=True, slots=True)
class Leak:
    data_dir: Path
    register_file: Path
    people: People
    leaked: int
    """The first ``leaked`` people are in the spreadsheet; the rest are not."""
    mistyped: Path
    intended: Path


def build_leak(tmp: Path, *, leaked: int, extra: int, deceased: int, seed: int = 11) -> Leak:
    """``leaked`` voters (``deceased`` of them dead) in a spreadsheet sent twice, first to a
    mistyped then to the intended gmail address; ``extra`` more voters in the register only."""
    people = generate(leaked + extra, seed=seed, deceased=0.0)
    status = np.full(len(people), "active", dtype=object)
    status[np.linspace(0, leaked - 1, deceased).astype(int)] = "deceased"
    people = dataclasses.replace(people, status=status.astype(people.status.dtype))
    data_dir = tmp / "var"
    settings = init_data_dir(data_dir, ["reo.gov.hk"])
    register_file = tmp / "voters.csv"
    register_file.write_text(people.csv_text(), encoding="utf-8")
    import_register(register_file, "voters", settings.registers_dir, settings.secret())
    sheet = make_xlsx(
        {"Voters": [list(LEAK_COLUMNS), *people.rows(LEAK_COLUMNS, slice(0, leaked))]}
    )
    emails = []
    for n, address in enumerate(("chan.taiman@gmial.com", "chan.taiman@gmail.com")):
        raw = make_eml(
            sender="clerk@reo.gov.hk",
            to=[address],
            subject="voter list",
            body="The list as discussed.",
            attachments=[("voters.xlsx", sheet, XLSX)],
        )
        date = format_datetime(datetime(2026, 3, 2, 9, 15 + 4 * n, tzinfo=HKT))
        path = tmp / f"sent-{n}.eml"
        path.write_bytes(f"Date: {date}\n".encode() + raw)
        emails.append(path)
    return Leak(data_dir, register_file, people, leaked, emails[0], emails[1])


def cli(data_dir: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))
