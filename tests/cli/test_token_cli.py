from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.cli.invocation import run_cli

from postwarden.settings import init_data_dir
from postwarden.store.audit import AuditEntry
from postwarden.store.db import make_engine
from postwarden.store.tokens import authenticate


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    init_data_dir(tmp_path / "var", ["demo.gov.hk"])
    return tmp_path / "var"


def _session(data_dir: Path) -> Session:
    return Session(make_engine(f"sqlite:///{(data_dir / 'postwarden.db').resolve()}"))


def test_token_add_prints_it_once_and_list_never_does(data_dir: Path) -> None:
    code, out, _ = run_cli(
        data_dir,
        "token",
        "add",
        "crm",
        "--scope",
        "check:detail",
        "--expires",
        "2099-12-31",
        "--json",
    )
    assert code == 0
    made = json.loads(out)
    assert list(made)[:2] == ["name", "token"]
    assert made["name"] == "crm"
    assert made["scope"] == "check:detail"
    assert made["expires_at"] == "2100-01-01T00:00:00+00:00"
    code, out, _ = run_cli(data_dir, "token", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert made["token"] not in out
    assert (row["name"], row["status"], row["calls"]) == ("crm", "active", 0)
    code, text, _ = run_cli(data_dir, "token", "list")
    assert "crm" in text
    assert made["token"] not in text
    with _session(data_dir) as s:
        assert authenticate(s, made["token"]) is not None


def test_token_revoke_takes_effect_and_is_audited(data_dir: Path) -> None:
    code, out, _ = run_cli(data_dir, "token", "add", "crm", "--scope", "check")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert run_cli(data_dir, "token", "revoke", "crm")[0] == 0
    with _session(data_dir) as s:
        assert authenticate(s, token) is None
        kinds = list(s.scalars(select(AuditEntry.kind).order_by(AuditEntry.seq)))
    assert kinds == ["token.add", "token.revoke"]
    code, _, err = run_cli(data_dir, "token", "revoke", "crm")
    assert code == 2
    assert "already revoked" in err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["token", "add", "x", "--scope", "admin"], 2),
        (["token", "add", "x", "--scope", "check", "--expires", "soon"], 2),
        (["token", "add", "x", "--scope", "check", "--expires", "2001-01-01"], 2),
        (["token", "revoke", "nobody"], 2),
    ],
)
def test_token_usage_errors(data_dir: Path, args: list[str], code: int) -> None:
    assert run_cli(data_dir, *args)[0] == code
