"""Fixtures for the front ends: a real gateway over a scratch data dir and real SMTP sinks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.transports.doubles import ScriptedInspector, Sink, running_sink

from postwarden.settings import Settings, init_data_dir
from postwarden.store.db import make_engine, migrate


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return init_data_dir(tmp_path / "var", ["demo.gov.hk"])


@pytest.fixture
def inspector() -> ScriptedInspector:
    return ScriptedInspector()


@pytest.fixture
def db(settings: Settings) -> Iterator[Engine]:
    """The settings' database, migrated (API tokens, quarantine, audit)."""
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    yield engine
    engine.dispose()
