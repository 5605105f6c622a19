"""Alembic environment: runs the migrations against the URL set by store.db.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from postwarden.store import schema
from postwarden.store.db import make_engine

config = context.config
# Any constant: every process migrating one PostgreSQL database takes this lock first.
_PG_MIGRATION_LOCK = 0x706F7374_77617264
target_metadata = schema.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - set by alembic_config()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two nodes (or two `postwarden upgrade`s) starting at once: the second waits,
                # then finds the schema at head and does nothing (PostgreSQL DDL is transactional).
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
                )
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
