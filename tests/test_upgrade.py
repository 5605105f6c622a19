"""``postwarden upgrade`` end to end: an installation at an older schema revision, holding
mail, is upgraded; the held mail is then released to a real SMTP sink and the audit chain
verifies — on SQLite and on PostgreSQL.

How the old installation is built, and why it exercises the upgrade path: the database is
created by Alembic up to revision 0004 only (the schema the gateway had before API tokens);
the message is held by the gateway's own hold path (seal, fsynced blob, row, audit entry)
bound to that 0004 database, which is what a gateway of that revision wrote, because the
tables it writes (``quarantine_items``, ``audit_log``, ``audit_lock``, ``users``) did not
change after 0004.  A migration that changes them makes the hold step below fail loudly
(the ORM writes a column the old table lacks); then write that revision's rows here with SQL.
The data dir is made to look as older versions left it: ``settings.json`` without
``access``, register ``meta.json`` without ``format`` and ``reading``, no audit anchor.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.cli.invocation import run_cli
from tests.pg import PgCluster
from tests.transports.doubles import Sink, running_sink

from postwarden import __version__
from postwarden.act import Gateway
from postwarden.engine.registers.index import FORMAT
from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.outbound import MemoryOutbound
from postwarden.settings import DATABASE_URL_ENV, Settings, init_data_dir, load_settings
from postwarden.store import audit
from postwarden.store.anchor import ANCHOR_FILE
from postwarden.store.db import (
    SchemaError,
    alembic_config,
    head_revision,
    make_engine,
    migrate,
    schema_revision,
    session_factory,
)
from postwarden.store.quarantine import Quarantine
from postwarden.store.users import Role
from postwarden.upgrade import UpgradeError, upgrade_installation

OLD_REVISION = "0004"
SENDER = "alice@example.org"
RAW = (
    b"From: alice@example.org\r\nTo: bob@partner.example\r\nSubject: members list\r\n"
    b"Message-ID: <upgrade-1@example.org>\r\n\r\nCANARY-UPGRADE-7\r\n"
)


class HoldAll:
    """The verdict of the old gateway: hold (the engine is not what is upgraded here)."""

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        return Verdict(Action.HOLD, reasons=[Reason("hkid-external", "HKID outside", Action.HOLD)])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a new database on the test PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'postwarden.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.url(cluster.create_database())


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``postwarden`` in a fresh process, as an operator or a systemd unit runs it."""
    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV}
    return subprocess.run(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _old_user(session: Session, settings: Settings) -> None:
    """A reviewer as add_user wrote one at schema 0004 (``users`` had no ``language`` column
    before 0006): the row by SQL, the audit entry as add_user makes it."""
    session.execute(
        text(
            "INSERT INTO users (name, email, role, created) "
            "VALUES ('bob', 'bob@example.org', 'reviewer', :created)"
        ),
        {"created": datetime.now(UTC)},
    )
    audit.append(
        session,
        "user.add",
        "t",
        {"user": "bob", "role": Role.REVIEWER.value, "email": True},
        secret=settings.secret(),
    )


def _old_installation(data: Path, url: str, next_hop: str) -> tuple[Settings, str]:
    """A data dir and database as a postwarden at schema 0004 left them, holding one
    message; returns the settings and the held item's id."""
    settings = init_data_dir(data, ["example.org"], database_url=url, next_hop=next_hop)
    members = data.parent / "members.csv"
    with members.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "hkid", "email"])
        writer.writerow(["M1", "CHAN Tai Man", "A123456(3)", "tm.chan@example.net"])
        writer.writerow(["M2", "LEE Siu Ming", "B987654(1)", "sm.lee@example.net"])
    code, _, err = run_cli(data, "register", "import", str(members), "--name", "members")
    assert code == 0, err

    command.upgrade(alembic_config(url), OLD_REVISION)
    engine = make_engine(url)
    gateway = Gateway(
        settings,
        engine=engine,
        quarantine=Quarantine.from_settings(settings, engine),
        outbound=MemoryOutbound(),
        inspector=HoldAll(),
    )
    with gateway.session() as session:
        _old_user(session, settings)
        session.commit()
    outcome = gateway.process(RAW, Envelope(SENDER, ("bob@partner.example",)))
    gateway.close()
    assert outcome.quarantine_id is not None
    with engine.connect() as conn:  # the hold really wrote into the 0004 schema
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0004"
        assert conn.execute(text("SELECT state FROM quarantine_items")).scalars().all() == ["held"]
    engine.dispose()

    # What older versions did not write: the audit anchor, settings' access controls, and
    # the register's format and reading.
    (data / ANCHOR_FILE).unlink()
    raw = json.loads(settings.settings_file.read_text(encoding="utf-8"))
    del raw["access"]
    del raw["limits"]["max_header_bytes"]
    settings.settings_file.write_text(json.dumps(raw), encoding="utf-8")
    meta_path = (data / "registers" / "members").resolve() / "meta.json"
    meta = json.loads(meta_path.read_bytes())
    del meta["format"], meta["reading"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return load_settings(data), outcome.quarantine_id


@pytest.mark.slow
def test_upgrade_releases_mail_held_at_an_older_schema(
    tmp_path: Path, empty_url: str, sink: Sink
) -> None:
    data = tmp_path / "var"
    _, item_id = _old_installation(data, empty_url, f"127.0.0.1:{sink.port}")

    # A gateway process of this version refuses the old schema and names the upgrade.
    refused = _cli(data, "quarantine", "list")
    assert refused.returncode == 1
    assert "postwarden upgrade" in refused.stderr
    assert f"revision {OLD_REVISION}" in refused.stderr
    assert schema_revision(empty_url) == OLD_REVISION  # and changed nothing

    done = _cli(data, "upgrade")
    assert done.returncode == 0, done.stderr
    assert f"postwarden {__version__}: upgrading" in done.stdout
    assert f"from revision {OLD_REVISION} to {head_revision()}" in done.stdout
    [settings_line] = [ln for ln in done.stdout.splitlines() if ln.startswith("settings.json")]
    assert "access" in settings_line
    assert "limits.max_header_bytes" in settings_line
    assert f"format {FORMAT}: members" in done.stdout
    assert schema_revision(empty_url) == head_revision()
    upgraded = json.loads((data / "settings.json").read_text(encoding="utf-8"))
    assert upgraded["access"]["client_networks"] == ["127.0.0.0/8", "::1/128"]
    assert upgraded["next_hop"] == f"127.0.0.1:{sink.port}"  # kept
    meta = json.loads(((data / "registers" / "members").resolve() / "meta.json").read_bytes())
    assert meta["format"] == FORMAT
    assert meta["reading"]["mapping"] == {}  # an older import recorded no mapping
    assert (data / ANCHOR_FILE).exists()

    again = _cli(data, "upgrade")
    assert again.returncode == 0, again.stderr
    assert "nothing to upgrade" in again.stdout
    assert f"schema at revision {head_revision()} (current)" in again.stdout

    listed = _cli(data, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(i["id"], i["state"]) for i in json.loads(listed.stdout)] == [(item_id, "held")]

    released = _cli(data, "quarantine", "release", item_id, "--by", "bob", "--reason", "ok")
    assert released.returncode == 0, released.stderr
    deadline = time.monotonic() + 10
    while not sink.messages(b"CANARY-UPGRADE-7") and time.monotonic() < deadline:
        time.sleep(0.05)
    [sent] = sink.messages(b"CANARY-UPGRADE-7")
    assert sent.sender == SENDER
    assert sent.recipients == ("bob@partner.example",)
    assert b"Subject: members list" in sent.raw

    verified = _cli(data, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    # verdict + hold, the upgrade, the release: one chain, its head anchored in the data dir
    assert "anchored head" in verified.stdout
    entries = int(verified.stdout.split("audit log ok: ")[1].split()[0])
    assert f"anchored head {entries} found" in verified.stdout
    again_released = _cli(data, "quarantine", "release", item_id, "--by", "bob", "--reason", "x")
    assert again_released.returncode == 1  # exactly once
    assert len(sink.messages(b"CANARY-UPGRADE-7")) == 1


def test_upgrade_refuses_a_database_newer_than_the_code(tmp_path: Path, empty_url: str) -> None:
    settings = init_data_dir(tmp_path / "var", ["example.org"], database_url=empty_url)
    migrate(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9001'"))
    engine.dispose()
    with pytest.raises(UpgradeError, match=r"revision 9001.*newer version"):
        upgrade_installation(settings, actor="t")
    with pytest.raises(SchemaError, match="revision 9001"):
        migrate(empty_url)
    result = _cli(tmp_path / "var", "upgrade")
    assert result.returncode == 1
    assert "9001" in result.stderr
    assert schema_revision(empty_url) == "9001"  # untouched


def test_upgrade_refuses_a_broken_audit_chain(tmp_path: Path, empty_url: str) -> None:
    """The upgrade does not chain onto (nor anchor) a log someone edited."""
    settings = init_data_dir(tmp_path / "var", ["example.org"], database_url=empty_url)
    migrate(empty_url)
    command.downgrade(alembic_config(empty_url), OLD_REVISION)
    engine = make_engine(empty_url)
    with session_factory(engine)() as session:
        _old_user(session, settings)
        session.commit()
    with session_factory(engine)() as session:
        audit.append(session, "test", "t", {"n": 1}, secret=settings.secret())
        audit.append(session, "test", "t", {"n": 2}, secret=settings.secret())
        session.commit()
    with engine.begin() as conn:  # someone with database rights removes the first entry
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 1"))
    engine.dispose()
    with pytest.raises(UpgradeError, match="audit log broken at entry"):
        upgrade_installation(settings, actor="t")
    assert not (settings.data_dir / ANCHOR_FILE).exists()


def test_fresh_database_is_created_at_start_and_upgrade_is_a_no_op(
    tmp_path: Path, empty_url: str
) -> None:
    """A new install needs no upgrade step: the first process creates the schema."""
    settings = init_data_dir(tmp_path / "var", ["example.org"], database_url=empty_url)
    assert schema_revision(empty_url) is None
    migrate(empty_url)
    assert schema_revision(empty_url) == head_revision()
    first = upgrade_installation(settings, actor="t")
    assert not first.schema.changed
    second = upgrade_installation(settings, actor="t")
    assert not second.changed
    assert second.lines[-1].endswith("(nothing to record)")
