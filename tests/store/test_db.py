"""The schema revision check every process makes, and migrations started by two at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from tests.pg import PgCluster

from postwarden.store.db import (
    HEAD_REVISION,
    SchemaError,
    alembic_config,
    head_revision,
    make_engine,
    migrate,
    open_database,
    schema_revision,
    upgrade,
)


def test_head_revision_is_the_alembic_scripts_head() -> None:
    # A new migration must bump HEAD_REVISION, or every process would refuse its own schema.
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert HEAD_REVISION == head_revision() == script.get_current_head()


def test_open_database_once_per_url_and_schema_checked_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    db = open_database(url)
    assert schema_revision(url) == HEAD_REVISION  # an empty database is created
    assert open_database(url) is db
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    other = f"sqlite:///{tmp_path / 'other.db'}"
    command.upgrade(alembic_config(other), "0003")
    with pytest.raises(SchemaError, match=r"revision 0003.*run 'postwarden upgrade'"):
        open_database(other)
    with pytest.raises(SchemaError):  # a refusal is not remembered as opened
        open_database(other)
    upgrade(other)
    assert open_database(other).engine is not db.engine


def test_a_forked_child_opens_its_own_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    parent = open_database(url)
    code = (
        "import os, sys\n"
        "from postwarden.store.db import open_database\n"
        "parent = open_database(sys.argv[1])\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if open_database(sys.argv[1]) is not parent else 3)\n"
        "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, b"")
    assert open_database(url) is parent


def test_migrate_creates_an_empty_database_and_refuses_an_older_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    assert schema_revision(url) is None
    migrate(url)
    assert schema_revision(url) == head_revision()
    migrate(url)  # current: nothing to do
    command.downgrade(alembic_config(url), "0003")
    with pytest.raises(SchemaError, match=r"revision 0003.*run 'postwarden upgrade'"):
        migrate(url)
    assert schema_revision(url) == "0003"
    done = upgrade(url)
    assert (done.before, done.after, done.changed) == ("0003", head_revision(), True)
    again = upgrade(url)
    assert not again.changed


def _migrate_at_once(url: str) -> None:
    """Three processes find the database empty at once; the lock makes the later ones find
    it created instead of failing on tables that already exist."""
    code = "import sys; from postwarden.store.db import migrate; migrate(sys.argv[1])"
    nodes = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [(n.wait(timeout=300), n.communicate()[1].decode()) for n in nodes]
    assert results == [(0, "")] * 3
    assert schema_revision(url) == head_revision()


@pytest.mark.integration
def test_two_nodes_creating_one_postgresql_schema_at_once(pg_cluster: PgCluster) -> None:
    _migrate_at_once(pg_cluster.url(pg_cluster.create_database()))


def test_two_gateways_starting_on_one_new_sqlite_data_dir(tmp_path: Path) -> None:
    # A relay and a console started together on a fresh data dir (make run, the TLS tests).
    _migrate_at_once(f"sqlite:///{tmp_path / 'postwarden.db'}")


def test_a_connection_waits_to_switch_a_locked_new_file_to_wal(tmp_path: Path) -> None:
    # Changing the journal mode answers "database is locked" at once, without the busy
    # handler, while another connection writes to a file still in rollback mode: the race
    # two processes met opening a fresh data dir together (the TLS tests' relay, once).
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    releaser = threading.Timer(0.3, other.execute, ("COMMIT",))
    releaser.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("SELECT x FROM t")).scalar() == 1
    finally:
        releaser.join()
        engine.dispose()
        other.close()
