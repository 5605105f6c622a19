"""Audit kinds are defined once: the code writes only listed kinds, each with its one shape,
and docs/audit.md's table says the same."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from tests.store.conftest import SECRET

from postwarden.store import audit
from postwarden.store.audit import AuditEntry
from postwarden.store.audit_kinds import SHAPES, AuditKind, AuditShapeError, Shape

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "postwarden"
DECISION = "item action rules register_data recipients sha256 reason_sha256"


def _documented() -> dict[str, Shape]:
    """docs/audit.md's table: kind -> fields (``decision`` expanded, ``[x]`` optional)."""
    rows: dict[str, Shape] = {}
    for line in (ROOT / "docs" / "audit.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        fields = cells[2].replace("decision", DECISION)
        optional = " ".join(re.findall(r"\[([^]]*)\]", fields))
        required = re.sub(r"\[[^]]*\]", "", fields)
        rows[cells[0].strip("`")] = Shape.of(
            required.replace("`", "").replace(",", " "), optional.replace("`", "")
        )
    return rows


def test_the_doc_table_lists_every_kind_with_its_shape() -> None:
    documented = _documented()
    assert sorted(documented) == sorted(k.value for k in AuditKind)
    for kind, shape in SHAPES.items():
        assert documented[kind.value] == shape, kind


def test_every_kind_has_one_shape() -> None:
    assert set(SHAPES) == set(AuditKind)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_the_program_writes_entries_only_through_record() -> None:
    """``audit.append`` takes any kind; the program must go through ``audit.record``."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "store" / "audit.py":
            continue
        for call in _calls(ast.parse(path.read_text())):
            f = call.func
            if isinstance(f, ast.Attribute) and f.attr == "append":
                if isinstance(f.value, ast.Name) and f.value.id == "audit":
                    offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
        assert "from postwarden.store.audit import append" not in path.read_text()
    assert offenders == []


def test_every_kind_is_written_somewhere() -> None:
    """A kind nobody writes is a stale row in the operators' table."""
    used = set()
    for path in SRC.rglob("*.py"):
        if path.name != "audit_kinds.py":
            used |= set(re.findall(r"AuditKind\.([A-Z_]+)", path.read_text()))
    assert sorted(used) == sorted(k.name for k in AuditKind)


def test_record_refuses_an_unknown_kind(db: Session) -> None:
    with pytest.raises(AuditShapeError, match=r"unknown audit kind 'user\.ad'"):
        audit.record(db, "user.ad", "t", {"user": "x"}, secret=SECRET)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [{"user": "bob", "role": "admin"}, {"user": "bob", "role": "admin", "email": 1, "pw": 1}],
)
def test_record_refuses_a_payload_not_of_its_shape(db: Session, data: dict[str, object]) -> None:
    before = db.query(AuditEntry).count()
    with pytest.raises(AuditShapeError, match=r"user\.add"):
        audit.record(db, AuditKind.USER_ADD, "t", data, secret=SECRET)
    assert db.query(AuditEntry).count() == before


def test_record_takes_optional_fields_and_keeps_the_kind_string(db: Session) -> None:
    plain = {"exemption": 1, "domain": "partner.example", "until": None}
    audit.record(db, AuditKind.EXEMPTION_GRANT, "olivia", plain, secret=SECRET)
    entry = audit.record(
        db, AuditKind.EXEMPTION_GRANT, "olivia", {**plain, "request": 3}, secret=SECRET
    )
    assert entry.kind == "exemption.grant"
