"""``postwarden quarantine``, ``user`` and ``audit`` end to end through ``main()``."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from postwarden.act import Gateway
from postwarden.cli import main
from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.outbound import MemoryOutbound, OutboxOutbound
from postwarden.settings import DATABASE_URL_ENV, init_data_dir
from postwarden.store.quarantine import Quarantine

RAW = (
    b"From: alice@example.org\r\nTo: bob@partner.example\r\n"
    b"Subject: =?utf-8?b?5ZCN5Zau?= list\r\n\r\nCANARY-Q7\r\n"
)


class HoldAll:
    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        return Verdict(Action.HOLD, reasons=[Reason("hkid-external", "HKID outside", Action.HOLD)])


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["postwarden", "--data-dir", str(data), *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    init_data_dir(tmp_path / "data", ["example.org"])
    return tmp_path / "data"


def _hold(data: Path) -> str:
    from postwarden.settings import load_settings

    gw = Gateway.from_settings(load_settings(data), outbound=MemoryOutbound(), inspector=HoldAll())
    outcome = gw.process(RAW, Envelope("alice@example.org", ("bob@partner.example",)))
    gw.close()
    assert outcome.quarantine_id is not None
    return outcome.quarantine_id


def test_cli_user_add_list(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        run(
            capsys,
            monkeypatch,
            data,
            "user",
            "add",
            "bob",
            "--role",
            "reviewer",
            "--email",
            "bob@example.org",
        )[0]
        == 0
    )
    code, _, err = run(capsys, monkeypatch, data, "user", "add", "bob", "--role", "admin")
    assert (code, "already exists" in err) == (1, True)
    code, _, err = run(capsys, monkeypatch, data, "user", "add", "eve", "--role", "boss")
    assert code == 2
    code, out, _ = run(capsys, monkeypatch, data, "user", "list", "--json")
    assert [(u["name"], u["role"], u["email"]) for u in json.loads(out)] == [
        ("bob", "reviewer", "bob@example.org")
    ]


def test_cli_quarantine_list_show_release(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = _hold(data)
    run(
        capsys,
        monkeypatch,
        data,
        "user",
        "add",
        "bob",
        "--role",
        "reviewer",
        "--email",
        "bob@example.org",
    )
    run(
        capsys,
        monkeypatch,
        data,
        "user",
        "add",
        "alice",
        "--role",
        "reviewer",
        "--email",
        "ALICE@example.org",
    )
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert {k: row[k] for k in ("id", "sender", "recipients", "action", "state")} == {
        "id": item_id,
        "sender": "alice@example.org",
        "recipients": ["bob@partner.example"],
        "action": "hold",
        "state": "held",
    }
    assert row["reasons"] == [{"rule": "hkid-external", "message": "HKID outside"}]
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "show", item_id, "--json")
    assert json.loads(out)["subject"] == "名單 list"
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "list")
    assert item_id in out
    assert "hkid-external" in out

    outbox = data.parent / "outbox"
    code, _, err = run(
        capsys,
        monkeypatch,
        data,
        "quarantine",
        "release",
        item_id,
        "--by",
        "alice",
        "--reason",
        "mine",
        "--outbox",
        str(outbox),
    )
    assert (code, "four eyes" in err) == (1, True)
    code, out, _ = run(
        capsys,
        monkeypatch,
        data,
        "quarantine",
        "release",
        item_id,
        "--by",
        "bob",
        "--reason",
        "fine",
        "--outbox",
        str(outbox),
    )
    assert code == 0
    [sent] = OutboxOutbound(outbox).messages()
    assert (sent.raw, sent.recipients) == (RAW, ("bob@partner.example",))
    code, _, err = run(
        capsys,
        monkeypatch,
        data,
        "quarantine",
        "release",
        item_id,
        "--by",
        "bob",
        "--reason",
        "again",
        "--outbox",
        str(outbox),
    )
    assert (code, "not held" in err) == (1, True)
    assert len(OutboxOutbound(outbox).messages()) == 1

    code, out, _ = run(capsys, monkeypatch, data, "audit", "verify")
    assert (code, out.startswith("audit log ok")) == (0, True)


def test_cli_quarantine_reject_expire_rotate(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _hold(data), _hold(data)
    run(capsys, monkeypatch, data, "user", "add", "bob", "--role", "reviewer")
    code, _, _ = run(
        capsys, monkeypatch, data, "quarantine", "reject", first, "--by", "bob", "--reason", " "
    )
    assert code == 2
    assert (
        run(
            capsys,
            monkeypatch,
            data,
            "quarantine",
            "reject",
            first,
            "--by",
            "bob",
            "--reason",
            "no",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "expire", "--older-than", "0")
    assert (code, second in out, first in out) == (0, True, False)
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "rotate-key")
    assert (code, "re-wrapped 2 item(s)") == (0, out.split("; ")[1].strip())
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "show", second, "--raw")
    assert "CANARY-Q7" in out
    code, _, _err = run(capsys, monkeypatch, data, "quarantine", "show", "nosuchitem")
    assert code == 1


def test_cli_audit_detects_byte_changed_in_database_file(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ann", "ben", "cat"):
        run(capsys, monkeypatch, data, "user", "add", name, "--role", "reviewer")
    code, out, _ = run(capsys, monkeypatch, data, "audit", "head")
    seq, _head = out.split()
    assert seq == "3"
    db = data / "postwarden.db"
    with sqlite3.connect(db) as conn:  # fold the WAL into the main file, as a backup would
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = bytearray(db.read_bytes())
    at = blob.index(b'"user":"ben"')
    blob[at + 9] = ord("x")  # "ben" -> "bxn": one byte, no trigger involved
    db.write_bytes(bytes(blob))
    code, _, err = run(capsys, monkeypatch, data, "audit", "verify")
    assert code == 1
    assert "entry 2" in err


def test_cli_audit_expect_head(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, data, "user", "add", "ann", "--role", "reviewer")
    _, out, _ = run(capsys, monkeypatch, data, "audit", "head", "--json")
    head = json.loads(out)["hash"]
    assert run(capsys, monkeypatch, data, "audit", "verify", "--expect-head", head)[0] == 0
    code, _, _err = run(capsys, monkeypatch, data, "audit", "verify", "--expect-head", "0" * 64)
    assert code == 1


def _age(data: Path, item_id: str, *, days: int) -> None:
    """Pretend the item was decided ``days`` ago."""
    from postwarden.settings import load_settings

    gw = Gateway.from_settings(load_settings(data), outbound=MemoryOutbound())
    with gw.session() as s:
        Quarantine.get(s, item_id).decided_at = datetime.now(UTC) - timedelta(days=days)
        s.commit()
    gw.close()


class _Crash:
    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        raise KeyboardInterrupt  # the gateway died after the next hop took it


def test_cli_quarantine_resolve_stuck_release(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from postwarden.settings import load_settings

    item_id = _hold(data)
    for name, role in [("bob", "reviewer"), ("pat", "privacy-officer")]:
        args = ("user", "add", name, "--role", role, "--email", f"{name}@example.org")
        assert run(capsys, monkeypatch, data, *args)[0] == 0
    gw = Gateway.from_settings(load_settings(data), outbound=_Crash())
    with pytest.raises(KeyboardInterrupt):
        gw.release(item_id, by="bob", reason="ok")
    gw.close()
    _age(data, item_id, days=1)

    code, out, err = run(capsys, monkeypatch, data, "quarantine", "list", "--state", "releasing")
    assert code == 0
    assert item_id in out
    assert "releasing" in out
    assert "quarantine resolve ID" in err
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "list", "--state", "held")
    assert out.strip() == "no quarantined messages"

    resolve = ("quarantine", "resolve", item_id, "--as", "released", "--reason", "log: sent")
    code, _, err = run(capsys, monkeypatch, data, *resolve, "--by", "bob")
    assert (code, "may not resolve" in err) == (1, True)
    code, _, err = run(capsys, monkeypatch, data, *resolve[:3], "--as", "gone", "--by", "pat")
    assert code == 2
    code, out, _ = run(capsys, monkeypatch, data, *resolve, "--by", "pat")
    assert (code, out.strip()) == (0, f"resolved {item_id} as released")
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "show", item_id, "--json")
    shown = json.loads(out)
    assert (shown["state"], shown["decided_by"], shown["decision_reason"]) == (
        "released",
        "pat",
        "log: sent",
    )
    code, out, _ = run(capsys, monkeypatch, data, "audit", "verify")
    assert code == 0


def test_cli_quarantine_purge(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, recent, held = _hold(data), _hold(data), _hold(data)
    run(capsys, monkeypatch, data, "user", "add", "bob", "--role", "reviewer")
    for item_id in (old, recent):
        args = ("quarantine", "reject", item_id, "--by", "bob", "--reason", "no")
        assert run(capsys, monkeypatch, data, *args)[0] == 0
    _age(data, old, days=40)
    _age(data, recent, days=5)

    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "purge", "--older-than", "30")
    assert code == 0
    assert out.splitlines() == ["purged 1 item(s)", f"  {old}"]
    blobs = {p.stem for p in (data / "quarantine").glob("*.pwq")}
    assert blobs == {recent, held}
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "show", old, "--json")
    shown = json.loads(out)
    assert (code, shown["state"], shown["purged"]) == (0, "rejected", True)
    assert shown["subject"] == "(purged after retention)"
    code, _, err = run(capsys, monkeypatch, data, "quarantine", "show", old, "--raw")
    assert (code, "purged" in err) == (1, True)
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "list", "--json")
    assert [i["id"] for i in json.loads(out)] == [old, recent, held]  # rows stay
    code, out, _ = run(capsys, monkeypatch, data, "audit", "verify")
    assert code == 0
    code, out, _ = run(capsys, monkeypatch, data, "quarantine", "purge", "--older-than", "30")
    assert out.strip() == "purged 0 item(s)"


def test_cli_release_refused_to_the_sender_under_a_plus_address(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from postwarden.settings import load_settings

    gw = Gateway.from_settings(load_settings(data), outbound=MemoryOutbound(), inspector=HoldAll())
    raw = RAW.replace(b"From: alice@example.org", b"From: Alice+x@Example.org")
    outcome = gw.process(raw, Envelope("alice+x@example.org", ("bob@partner.example",)))
    gw.close()
    assert outcome.quarantine_id is not None
    for name in ("alice", "bob"):
        args = ("user", "add", name, "--role", "reviewer", "--email", f"{name}@example.org")
        assert run(capsys, monkeypatch, data, *args)[0] == 0
    outbox = data / "outbox"
    release = ("quarantine", "release", outcome.quarantine_id, "--reason", "ok")
    code, _, err = run(
        capsys, monkeypatch, data, *release, "--by", "alice", "--outbox", str(outbox)
    )
    assert (code, "four eyes" in err) == (1, True)
    code, _, _ = run(capsys, monkeypatch, data, *release, "--by", "bob", "--outbox", str(outbox))
    assert code == 0
    assert len(OutboxOutbound(outbox).messages()) == 1
