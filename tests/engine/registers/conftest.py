"""A generated register, imported once per test session, for the register tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.engine.registers.people import People, generate

from postwarden.engine.registers import RegisterSet, import_register

SECRET = b"register-tests-secret-0123456789"
PEOPLE = 20_000


@dataclass(frozen=True, slots=True)
class Imported:
    people: People
    registers_dir: Path
    source: Path

    def registers(self) -> RegisterSet:
        return RegisterSet(self.registers_dir, SECRET)


def import_people(
    root: Path, people: People, name: str = "voters", columns: tuple[str, ...] | None = None
) -> Path:
    """``people`` written as a csv outside ``root`` and imported into ``root/registers``."""
    registers_dir = root / "registers"
    registers_dir.mkdir(parents=True, exist_ok=True)
    source = root.parent / f"{root.name}-{name}.csv"
    source.write_text(people.csv_text(columns or People.COLUMNS), encoding="utf-8")
    import_register(source, name, registers_dir, SECRET)
    return source


@pytest.fixture(scope="session")
def voters(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """20,000 generated people (with emails and dates of birth) imported as ``voters``."""
    people = generate(PEOPLE, seed=11)
    root = tmp_path_factory.mktemp("registers") / "data"
    source = import_people(root, people, columns=(*People.COLUMNS, "email", "dob"))
    return Imported(people=people, registers_dir=root / "registers", source=source)
