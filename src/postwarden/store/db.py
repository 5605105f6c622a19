"""Database engine and sessions, with the durability settings reliability.md §8 asks for;
the schema revision check every process makes at start, and the one explicit upgrade.

:func:`open_database` is how the program opens its database: one engine and session factory
per process and URL, the schema checked the first time.  Alembic is imported only when a
database is not at :data:`HEAD_REVISION` (a fresh one, an upgrade, a refusal).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from postwarden.errors import PostwardenError
from postwarden.i18n import _

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

HEAD_REVISION = "0007"
"""The newest revision in ``migrations/versions``: the schema this code runs on.  Restated
here so that a process whose database is current never imports Alembic to learn it;
tests/store/test_db.py fails when it is not the Alembic scripts' head."""


class Base(DeclarativeBase):
    """Declarative base of every table; table modules import it and Alembic reads its metadata."""


WAL_WAIT_SECONDS = 30.0
"""How long a connection waits for another one to let it switch a new file to WAL."""


def _ensure_wal(cur: Any) -> None:
    """Put the database in WAL mode, waiting while another connection holds it locked.

    Changing the journal mode needs the file to itself, and SQLite answers ``database is
    locked`` at once instead of calling the busy handler.  Two processes opening a fresh
    file together (the relay and the console at start) met that; so the mode is read first
    (WAL persists in the file, so that is the usual answer) and the change is retried.
    """
    deadline = time.monotonic() + WAL_WAIT_SECONDS
    while True:
        try:
            mode = str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode in ("wal", "memory"):
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def make_engine(url: str) -> Engine:
    """An engine with WAL + synchronous=FULL on SQLite and synchronous_commit on PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _ensure_wal(cur)
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _pg_settings(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SET synchronous_commit = on")
        cur.close()
        dbapi_conn.commit()

    return engine


class SchemaError(PostwardenError):
    """The database is at a schema revision this code does not run on as it is."""


def alembic_config(url: str) -> Config:
    # Alembic is imported where it is used: a process whose schema is current never needs it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _revisions() -> tuple[str, tuple[str, ...]]:
    """This code's head revision and every revision it knows, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    known = tuple(reversed([r.revision for r in script.walk_revisions()]))
    return head, known


def head_revision() -> str:
    """The schema revision this code runs on."""
    return HEAD_REVISION


def schema_revision(url: str) -> str | None:
    """The revision the database at ``url`` is stamped with; None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _stamped(conn)
    finally:
        engine.dispose()


def _stamped(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row else None


def _newer_than_code(revision: str) -> SchemaError:
    return SchemaError(
        _(
            "the database schema is at revision {revision}, which this postwarden (schema "
            "{supported}) does not know: it was upgraded by a newer version. Run the newer "
            "version, or restore the database backup taken before that upgrade"
        ).format(revision=revision, supported=head_revision())
    )


def migrate(url: str) -> None:
    """Make sure the schema at ``url`` is the one this code runs on.

    An empty database gets the whole schema (a fresh install needs no extra step).  A
    database at an older revision is refused, naming ``postwarden upgrade``: with several
    nodes on one PostgreSQL, a node started on new code must not change the schema under
    the nodes still running the old code (docs/deploy.md).  A newer one is refused too.
    """
    if schema_revision(url) == HEAD_REVISION:
        return
    _migrate_behind(url)


def _migrate_behind(url: str) -> None:
    """:func:`migrate` for a database not (yet) seen at the head revision."""
    head, known = _revisions()
    with _sqlite_lock(url):
        # Read again under the lock: another process may be half-way through creating it.
        current = schema_revision(url)
        if current == head:
            return
        if current is None:
            _upgrade_locked(url)
            return
    if current not in known:
        raise _newer_than_code(current)
    raise SchemaError(
        _(
            "the database schema is at revision {current}, this postwarden needs {head}: run "
            "'postwarden upgrade' (with every gateway node stopped), then start it again"
        ).format(current=current, head=head)
    )


@dataclass(frozen=True, slots=True)
class SchemaUpgrade:
    """What :func:`upgrade` did: from revision ``before`` (None: empty) to ``after``."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(url: str) -> SchemaUpgrade:
    """Migrate the database at ``url`` to this code's head revision (idempotent); raises
    :class:`SchemaError` for a database newer than the code."""
    _forget(url)
    with _sqlite_lock(url):
        return _upgrade_locked(url)


def _upgrade_locked(url: str) -> SchemaUpgrade:
    from alembic import command

    head, known = _revisions()
    before = schema_revision(url)
    if before is not None and before not in known:
        raise _newer_than_code(before)
    if before != head:
        command.upgrade(alembic_config(url), "head")
    return SchemaUpgrade(before, schema_revision(url) or head)


@contextlib.contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    """On SQLite, one process at a time creates or migrates the schema: two gateways started
    together on a fresh data dir would both see it empty and both create the tables.  (On
    PostgreSQL, migrations/env.py holds an advisory lock instead.)"""
    made = make_url(url)
    if made.get_backend_name() != "sqlite" or not made.database or made.database == ":memory:":
        yield
        return
    lock = Path(made.database).with_name(Path(made.database).name + ".migrate.lock")
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_Row = TypeVar("_Row", bound=Base)


def get_row(session: Session, model: type[_Row], key: object, missing: Exception) -> _Row:
    """The ``model`` row of primary key ``key``; raises ``missing`` when there is none."""
    row = session.get(model, key)
    if row is None:
        raise missing
    return row


def add_new(session: Session, row: Base, exists: Exception) -> None:
    """Add ``row`` and flush it; a unique key it breaks raises ``exists`` (rolled back)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """How every session is made: rows stay readable after commit (``expire_on_commit``
    off), so nothing touches a row's session after it closed."""
    return sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True, slots=True)
class Database:
    """One database as a process uses it: its engine and the factory of its sessions."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        return self.sessions()


_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.Lock()


def open_database(url: str) -> Database:
    """The database at ``url``, at this code's schema (:func:`migrate`: an empty one is
    created, an older or newer one refused with :class:`SchemaError`).

    Made once per process and URL, so the engine (its connection pool) and the schema check
    are shared by every part of the process that uses it; a child process made by ``fork``
    opens its own.
    """
    with _OPEN_LOCK:
        database = _OPEN.get(url)
        if database is None:
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    current = _stamped(conn)
                if current != HEAD_REVISION:
                    _migrate_behind(url)
            except BaseException:
                engine.dispose()
                raise
            database = Database(url, engine, session_factory(engine))
            _OPEN[url] = database
        return database


def _forget(url: str) -> None:
    """Let the next :func:`open_database` of ``url`` check the schema again (it changed)."""
    with _OPEN_LOCK:
        database = _OPEN.pop(url, None)
    if database is not None:
        database.engine.dispose()


def _forget_all_in_child() -> None:
    # A forked child must not share the parent's pooled connections (SQLAlchemy's pooling
    # guide): it drops them without closing them, and opens its own on first use.
    global _OPEN_LOCK
    _OPEN_LOCK = threading.Lock()
    for database in _OPEN.values():
        database.engine.dispose(close=False)
    _OPEN.clear()


os.register_at_fork(after_in_child=_forget_all_in_child)
