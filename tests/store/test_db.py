"""The schema revision check every process makes, and migrations started by two at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from tests.pg import PgCluster

from postwarden.store.db import (
    SchemaError,
    alembic_config,
    head_revision,
    migrate,
    schema_revision,
    upgrade,
)


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
