"""Persistence: SQLAlchemy 2 tables, Alembic migrations, SQLite by default, PostgreSQL by URL."""
