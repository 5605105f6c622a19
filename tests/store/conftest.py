"""Fixtures of the store tests: a migrated SQLite database with one console user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from postwarden.store.db import make_engine, migrate, session_factory
from postwarden.store.users import add_user

SECRET = b"k" * 32


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh database holding the reviewer ``alice`` (user id 1)."""
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        add_user(session, "alice", "reviewer", "alice@demo.gov.hk", actor="t", secret=SECRET)
        session.commit()
        yield session
    engine.dispose()
