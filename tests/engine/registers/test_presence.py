"""What a present record's finding lists, a second person on an identified row, and
eight-digit numbers that are not phones."""

from __future__ import annotations

import numpy as np
import pytest
from tests.engine.registers.conftest import SECRET, Imported, import_people
from tests.engine.registers.people import People, generate

from postwarden.engine.registers import RegisterSet
from postwarden.engine.registers.match import SAMPLE_ROWS
from postwarden.model import Finding, TextUnit

EVERY_FIELD = "hkid+phone+email+name_en+name_zh+address_en+address_zh+dob"
ALL_COLUMNS = (*People.COLUMNS, "email", "dob")
PHONE_PEOPLE = 300_000


def _table(rows: list[list[str]], name: str = "x.xlsx#S!") -> list[TextUnit]:
    return [
        TextUnit(text=" | ".join(r), where=f"attachment:{name}R{i + 1}", cells=tuple(r))
        for i, r in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def registers(voters: Imported) -> RegisterSet:
    return voters.registers()


@pytest.mark.parametrize("rows", [50, SAMPLE_ROWS + 400])
def test_match_finding_lists_every_field_seen(
    registers: RegisterSet, voters: Imported, rows: int
) -> None:
    # Past the sample, identified rows get the fields their columns carried in it.
    idx = np.random.default_rng(21).choice(20_000, size=rows, replace=False)
    table = [list(ALL_COLUMNS), *voters.people.rows(ALL_COLUMNS, idx)]
    blank = len(table) - 1
    table[blank][ALL_COLUMNS.index("address_en")] = ""
    found = registers.match(_table(table), [])
    assert found.record_ids == {"voters": set(idx.tolist())}
    fields = found.record_fields["voters"]
    assert fields[int(idx[-1])] == EVERY_FIELD.replace("+address_en", "")
    assert {fields[int(i)] for i in idx[:-1]} == {EVERY_FIELD}
    assert sorted(f.detail for f in found.findings) == sorted(fields.values())


def test_match_identified_row_with_another_persons_name_and_address(
    registers: RegisterSet, voters: Imported
) -> None:
    p = voters.people
    a, b = 101, 202
    row = [str(p.hkid[a]), str(p.name_en[b]), str(p.address_zh[b])]
    found = registers.match(_table([["HKID", "Name", "地址"], row]), [])
    assert found.record_ids == {"voters": {a, b}}
    assert found.record_fields["voters"] == {a: "hkid", b: "name_en+address_zh"}


def test_match_row_of_one_person_does_not_count_a_housemate(
    registers: RegisterSet, voters: Imported
) -> None:
    p = voters.people
    addresses = p.column("address_en")
    # Someone whose household has another member: the shared address is the first's alone.
    a = next(i for i, ad in enumerate(addresses) if addresses.count(ad) > 1)
    row = [str(p.hkid[a]), str(p.name_zh[a]), addresses[a]]
    found = registers.match(_table([row]), [])
    assert found.record_ids == {"voters": {a}}


@pytest.fixture(scope="module")
def phones(tmp_path_factory: pytest.TempPathFactory) -> tuple[RegisterSet, People]:
    """300,000 registered phones over the 30 M numbers of the 5/6/9 mobile blocks."""
    people = generate(PHONE_PEOPLE, seed=41)
    root = tmp_path_factory.mktemp("phones") / "data"
    import_people(root, people, name="phones", columns=("id", "phone"))
    return RegisterSet(root / "registers", SECRET), people


def _order_numbers(people: People, n: int) -> tuple[list[str], int]:
    """``n`` random numbers of the mobile blocks, and how many are registered phones."""
    rng = np.random.default_rng(5)
    numbers = [
        f"{first}{rest:07d}"
        for first, rest in zip(
            rng.choice([5, 6, 9], n).tolist(), rng.integers(0, 10**7, n).tolist(), strict=True
        )
    ]
    registered = set(people.column("phone"))
    return numbers, sum(x in registered for x in numbers)


@pytest.mark.slow
def test_match_order_numbers_that_are_someones_phone_count_nobody(
    phones: tuple[RegisterSet, People],
) -> None:
    registers, people = phones
    numbers, collisions = _order_numbers(people, 4000)
    assert collisions >= 20  # the register is dense enough for order numbers to hit phones
    rows = [["Order no.", "Qty", "Amount"]] + [[x, "2", "$120.00"] for x in numbers]
    assert registers.match(_table(rows), []).subjects == {"phones": 0}
    headless = [[x] for x in numbers]
    assert registers.match(_table(headless), []).subjects == {"phones": 0}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("heading", "rows", "expected"),
    [
        ("Tel", 5, 5),  # the heading says phone
        ("電話", 5, 5),
        ("Ref", 5, 0),  # five hits could be luck in a register this dense
        ("Ref", 40, 40),  # forty of forty cannot
        (None, 400, 400),
    ],
)
def test_match_phone_column_needs_a_heading_or_many_hits(
    phones: tuple[RegisterSet, People], heading: str | None, rows: int, expected: int
) -> None:
    registers, people = phones
    sample = people.column("phone")[:rows]
    table = ([[heading]] if heading else []) + [[x] for x in sample]
    assert registers.match(_table(table), []).subjects == {"phones": expected}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "confidence", "expected"),
    [("Tel: {n}", 0.8, 1), ("Please call {n} today", 0.8, 1), ("Order {n} shipped", 0.4, 0)],
)
def test_match_phone_in_running_text_needs_its_context(
    phones: tuple[RegisterSet, People], text: str, confidence: float, expected: int
) -> None:
    registers, people = phones
    number = people.column("phone")[7]
    body = text.format(n=number)
    at = body.index(number)
    span = Finding("phone", "body", number, at, at + 8, confidence)
    found = registers.match([TextUnit(text=body, where="body")], [span])
    assert found.subjects == {"phones": expected}
