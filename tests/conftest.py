"""Fixtures shared across the suite: databases (SQLite and a throwaway PostgreSQL cluster),
and a process with no network."""

from __future__ import annotations

import gc
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.pg import PgCluster, find_pg_bin

from postwarden.i18n import env_language
from postwarden.store.db import make_engine, migrate, session_factory

# Tests read the English messages; a developer's Chinese locale must not change them (the
# language tests set their own environment).
if env_language() != "en":
    os.environ["LC_ALL"] = "C.UTF-8"

_TEMPLATE_DB = "postwarden_template"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve a name or open a connection fails the test (what must work
    offline, such as the bundled Public Suffix List, is checked under it)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster for the whole run, with a migrated template database."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL not installed (no initdb in /usr/lib/postgresql/*/bin or PATH)")
    cluster = PgCluster(bin_dir)
    try:
        cluster.start()
        cluster.execute(f'CREATE DATABASE "{_TEMPLATE_DB}"')
        migrate(cluster.url(_TEMPLATE_DB))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "postwarden.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at the newest migration, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "postwarden.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.url(cluster.create_database(template=_TEMPLATE_DB))


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    with session_factory(db_engine)() as s:
        yield s


@pytest.fixture
def gc_state() -> Iterator[None]:
    """The garbage collector left enabled or disabled as the test found it."""
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()
